// Package codegen stands in for the YAML program generator (see stubs/README.md): never called by the plugin.
package codegen

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
)

// GenerateProgram refuses: YAML example conversion is not built into ai-dualstack's proxmoxve plugin.
func GenerateProgram(*pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, fmt.Errorf("YAML program generation is not built into this plugin")
}
