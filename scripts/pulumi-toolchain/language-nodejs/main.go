// pulumi-language-nodejs: a Node.js language host for the Pulumi engine.
//
// It runs programs with @pulumi/pulumi/cmd/run and plugins (policy packs with cmd/run-policy-pack, others with
// cmd/run-plugin) under `node`, passing the runtime options `nodeargs` and `typescript` from Pulumi.yaml /
// PulumiPolicy.yaml. It does what `pulumi preview|up|refresh|destroy` and local policy packs need; project
// scaffolding (`pulumi new`, `pulumi about`, code generation) is left unimplemented.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is set at build time to the @pulumi/pulumi version this host is built for.
var Version = "3.248.0"

// nodeExitedAfterLoggingError is the exit code cmd/run uses after it has shown the user an actionable error.
const nodeExitedAfterLoggingError = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func main() {
	h := &host{}
	// Usage: pulumi-language-nodejs [-flags...] <engine-address>; flags such as -tracing and -root are ignored.
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			h.engineAddress = a
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

// Plugins are installed ahead of time (scripts/pulumi-toolchain.sh) and loaded on demand: nothing to announce.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// Dependencies are installed with `npm ci` by the project itself.
func (h *host) InstallDependencies(*pulumirpc.InstallDependenciesRequest, grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	return nil
}

// runtimeOptions reads `nodeargs` and `typescript` from the program's runtime options.
func runtimeOptions(info *pulumirpc.ProgramInfo) (nodeArgs []string, typescript bool) {
	typescript = true // the upstream default
	opts := map[string]any{}
	if info != nil && info.GetOptions() != nil {
		opts = info.GetOptions().AsMap()
	}
	if v, ok := opts["nodeargs"].(string); ok && strings.TrimSpace(v) != "" {
		nodeArgs = strings.Fields(v)
	}
	switch v := opts["typescript"].(type) {
	case bool:
		typescript = v
	case string:
		typescript = v != "false"
	}
	return nodeArgs, typescript
}

// resolveScript finds node_modules/@pulumi/pulumi/cmd/<name> from dir upwards, as Node's resolution would.
func resolveScript(dir, name string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, "node_modules", "@pulumi", "pulumi", "cmd", name)
		if _, err := os.Stat(filepath.Join(candidate, "index.js")); err == nil {
			return candidate, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("cannot find @pulumi/pulumi/cmd/%s from %s: run `npm ci` first", name, dir)
		}
	}
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	pwd := req.GetPwd()
	script, err := resolveScript(pwd, "run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	nodeArgs, typescript := runtimeOptions(req.GetInfo())
	program := req.GetProgram()
	if info := req.GetInfo(); info != nil && info.GetEntryPoint() != "" {
		program = filepath.Join(info.GetProgramDirectory(), info.GetEntryPoint())
	}
	if program == "" {
		program = "."
	}
	args := append([]string{}, nodeArgs...)
	args = append(args, script,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", pwd,
		"--parallel", strconv.Itoa(int(req.GetParallel())),
	)
	if req.GetOrganization() != "" {
		args = append(args, "--organization", req.GetOrganization())
	}
	if info := req.GetInfo(); info != nil && info.GetRootDirectory() != "" {
		args = append(args, "--root-directory", info.GetRootDirectory())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	keys, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(keys),
		"PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(typescript),
	)
	if pm := req.GetConfigPropertyMap(); pm != nil {
		if b, err := json.Marshal(pm.AsMap()); err == nil {
			env = append(env, "PULUMI_CONFIG_PROPERTY_MAP="+string(b))
		}
	}

	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = pwd
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == nodeExitedAfterLoggingError {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// streamWriter forwards a plugin's output to the engine, which reads the plugin's port from its stdout.
type streamWriter struct {
	send   func(*pulumirpc.RunPluginResponse) error
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	data := append([]byte(nil), p...)
	resp := &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: data}}
	if w.stderr {
		resp = &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: data}}
	}
	if err := w.send(resp); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	dir := req.GetPwd()
	if info := req.GetInfo(); info != nil && info.GetProgramDirectory() != "" {
		dir = info.GetProgramDirectory()
	}
	name := "run-plugin"
	if req.GetKind() == "analyzer" {
		name = "run-policy-pack"
	}
	script, err := resolveScript(dir, name)
	if err != nil {
		return err
	}
	nodeArgs, typescript := runtimeOptions(req.GetInfo())
	args := append(append([]string{}, nodeArgs...), script)
	args = append(args, req.GetArgs()...)
	args = append(args, ".")

	send := func(r *pulumirpc.RunPluginResponse) error { return server.Send(r) }
	cmd := exec.CommandContext(server.Context(), "node", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), req.GetEnv()...), "PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(typescript))
	cmd.Stdout = streamWriter{send: send}
	cmd.Stderr = streamWriter{send: send, stderr: true}
	code := 0
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		code = exit.ExitCode()
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

var _ io.Writer = streamWriter{}
