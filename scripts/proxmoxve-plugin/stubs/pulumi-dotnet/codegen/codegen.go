// Package codegen stands in for the .NET code generator (see stubs/README.md): the program generator is never called
// by the plugin; the three language-info types are the shapes the bridge writes into a schema's "csharp" sections.
package codegen

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
)

// GenerateProgram refuses: C# example conversion is not built into ai-dualstack's proxmoxve plugin.
func GenerateProgram(*pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, fmt.Errorf("C# program generation is not built into this plugin")
}

// CSharpPackageInfo is the package's "csharp" language section of a schema.
type CSharpPackageInfo struct {
	PackageReferences            map[string]string `json:"packageReferences,omitempty"`
	Namespaces                   map[string]string `json:"namespaces,omitempty"`
	RootNamespace                string            `json:"rootNamespace,omitempty"`
	Compatibility                string            `json:"compatibility,omitempty"`
	DictionaryConstructors       bool              `json:"dictionaryConstructors,omitempty"`
	ProjectReferences            []string          `json:"projectReferences,omitempty"`
	LiftSingleValueMethodReturns bool              `json:"liftSingleValueMethodReturns,omitempty"`
	RespectSchemaVersion         bool              `json:"respectSchemaVersion,omitempty"`
}

// CSharpPropertyInfo is a property's "csharp" language section.
type CSharpPropertyInfo struct {
	Name string `json:"name,omitempty"`
}

// CSharpResourceInfo is a resource's "csharp" language section.
type CSharpResourceInfo struct {
	Name string `json:"name,omitempty"`
}
