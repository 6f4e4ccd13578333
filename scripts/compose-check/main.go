// compose-check: loads Compose files the way Docker Compose does (compose-spec/compose-go, the loader `docker compose`
// is built on: schema validation, interpolation, normalisation) and prints the project as Compose resolved it, or
// the loader's error and exit 1. The tests read `dualstack compose`'s output with it (scripts/compose-check.sh).
//
//	compose-check FILE...
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check FILE...")
		os.Exit(2)
	}
	out, err := load(os.Args[1:])
	if err == nil {
		_, err = os.Stdout.Write(out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func load(files []string) ([]byte, error) {
	opts, err := cli.NewProjectOptions(files, cli.WithOsEnv, cli.WithInterpolation(true), cli.WithResolvedPaths(false))
	if err != nil {
		return nil, err
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return nil, err
	}
	return project.MarshalYAML()
}
