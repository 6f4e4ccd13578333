// pulumi-resource-proxmoxve, built by ai-dualstack from bpg's Terraform provider and Pulumi's Terraform bridge (both
// Go modules from the proxy, at the versions go.mod pins), so that the engine test runs the real provider logic:
// its validation, its plans (diffs) and its read-back. scripts/proxmoxve-plugin.sh builds it; the version it reports
// is the one the npm SDK asks the engine for.
//
//	pulumi-resource-proxmoxve            serve (the engine starts it)
//	pulumi-resource-proxmoxve -version   print the version
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	bpgfw "github.com/bpg/terraform-provider-proxmox/fwprovider"
	bpgsdk "github.com/bpg/terraform-provider-proxmox/proxmoxtf/provider"
	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	shim "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim"
	sdkv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/x/muxer"
	"github.com/pulumi/pulumi-terraform-bridge/v3/unstable/metadata"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
)

// version: the plugin version the npm SDK asks for (package.json "pulumi.version"); set by the build script.
var version = "0.0.0"

// bpgVersion: the upstream provider's own version string (its user agent); set by the build script.
var bpgVersion = "dev"

// dispatcher: the muxed shim's method that computes which half serves each token (its type is internal to the bridge).
type dispatcher interface {
	ResolveDispatch(info *tfbridge.ProviderInfo) (muxer.DispatchTable, error)
}

func providerInfo(ctx context.Context) (tfbridge.ProviderInfo, error) {
	p := pftfbridge.MuxShimWithPF(ctx, sdkv2.NewProvider(bpgsdk.ProxmoxVirtualEnvironment()), bpgfw.New(bpgVersion)())
	info := tfbridge.ProviderInfo{
		P:              p,
		Name:           pkgName,
		ResourcePrefix: "proxmox",
		Version:        version,
		GitHubOrg:      "bpg",
		Repository:     "https://github.com/bpg/terraform-provider-proxmox",
		MetadataInfo:   tfbridge.NewProviderMetadata(nil),
		Resources:      resourceInfos(),
	}
	// Everything else bpg offers is left unmapped, on purpose: the plugin serves what the program creates.
	p.ResourcesMap().Range(func(tf string, _ shim.Resource) bool {
		if _, ok := info.Resources[tf]; !ok {
			info.IgnoreMappings = append(info.IgnoreMappings, tf)
		}
		return true
	})
	p.DataSourcesMap().Range(func(tf string, _ shim.Resource) bool {
		info.IgnoreMappings = append(info.IgnoreMappings, tf) // the program reads no data sources
		return true
	})
	// What tfgen would have precomputed (bridge-metadata.json): the half that serves each token.
	d, ok := p.(dispatcher)
	if !ok {
		return info, fmt.Errorf("the bridge's muxed provider no longer resolves its dispatch table")
	}
	table, err := d.ResolveDispatch(&info)
	if err != nil {
		return info, fmt.Errorf("dispatch table: %w", err)
	}
	if err := metadata.Set(info.GetMetadata(), "mux", table); err != nil {
		return info, err
	}
	return info, nil
}

// schemaOf: the Pulumi package schema of the mapped resources, generated in memory as tfgen would write it.
func schemaOf(info tfbridge.ProviderInfo) ([]byte, error) {
	sink := diag.DefaultSink(os.Stderr, os.Stderr, diag.FormatOptions{Color: colors.Never})
	res, err := tfgen.GenerateSchemaWithOptions(tfgen.GenerateSchemaOptions{ProviderInfo: info, DiagnosticsSink: sink, XInMemoryDocs: true})
	if err != nil {
		return nil, err
	}
	return json.Marshal(res.PackageSpec)
}

func main() {
	ctx := context.Background()
	if len(os.Args) == 2 && os.Args[1] == "-version" {
		fmt.Println(version) // without building the provider and its schema first
		return
	}
	info, err := providerInfo(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-proxmoxve: %v\n", err)
		os.Exit(1)
	}
	schema, err := schemaOf(info)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-proxmoxve: schema: %v\n", err)
		os.Exit(1)
	}
	pftfbridge.MainWithMuxer(ctx, pkgName, info, schema)
}
