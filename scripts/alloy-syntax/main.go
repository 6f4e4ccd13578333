// alloy-syntax: reads Alloy configuration files with Grafana's own parser and printer (github.com/grafana/alloy/syntax,
// what `alloy fmt` and `alloy run` read a configuration with), as far as that module goes without Alloy itself (whose
// module the proxy does not serve at the version the guests install). For each file it reports, and exits 1 on:
//
//   - a syntax error, with its position (the parser's own message);
//
//   - a file that is not in the canonical form `alloy fmt` prints;
//
//   - a component reference (loki.write.gateway.receiver) to a component the file does not declare, which `alloy run`
//     refuses at load.
//
//     alloy-syntax FILE...
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/parser"
	"github.com/grafana/alloy/syntax/printer"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: alloy-syntax FILE...")
		os.Exit(2)
	}
	failed := false
	for _, name := range os.Args[1:] {
		for _, problem := range check(name) {
			fmt.Fprintln(os.Stderr, problem)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func check(name string) []string {
	src, err := os.ReadFile(name)
	if err != nil {
		return []string{err.Error()}
	}
	file, err := parser.ParseFile(name, src)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	var out bytes.Buffer
	if err := printer.Fprint(&out, file); err != nil {
		return []string{fmt.Sprintf("%s: %v", name, err)}
	}
	if formatted := out.String(); strings.TrimRight(formatted, "\n") != strings.TrimRight(string(src), "\n") {
		problems = append(problems, fmt.Sprintf("%s: not in the canonical form `alloy fmt` prints:\n%s", name, formatted))
	}
	declared := map[string]bool{}
	namespaces := map[string]bool{}
	for _, stmt := range file.Body {
		if block, ok := stmt.(*ast.BlockStmt); ok && block.Label != "" {
			full := strings.Join(block.Name, ".")
			declared[full+"."+block.Label] = true
			namespaces[block.Name[0]] = true
		}
	}
	ast.Walk(visitor(func(node ast.Node) {
		path, ok := dotted(node)
		if !ok || !namespaces[path[0]] {
			return
		}
		for n := 2; n <= len(path); n++ {
			if declared[strings.Join(path[:n], ".")] {
				return
			}
		}
		problems = append(problems, fmt.Sprintf("%s: %s refers to a component the file does not declare", name, strings.Join(path, ".")))
	}), file)
	return problems
}

// dotted returns the identifiers of a whole field access chain (a.b.c), not of its inner parts.
func dotted(node ast.Node) ([]string, bool) {
	access, ok := node.(*ast.AccessExpr)
	if !ok {
		return nil, false
	}
	var parts []string
	var expr ast.Expr = access
	for {
		switch e := expr.(type) {
		case *ast.AccessExpr:
			parts = append([]string{e.Name.Name}, parts...)
			expr = e.Value
		case *ast.IdentifierExpr:
			return append([]string{e.Ident.Name}, parts...), true
		default:
			return nil, false
		}
	}
}

// visitor calls f on every node, and reads each access chain once, from its outermost node.
type visitor func(ast.Node)

func (v visitor) Visit(node ast.Node) ast.Visitor {
	if node == nil {
		return nil
	}
	v(node)
	if _, ok := node.(*ast.AccessExpr); ok {
		return nil
	}
	return v
}
