// The project's Alloy configuration checker: Grafana's Alloy syntax module, from the Go module proxy (scripts/alloy-syntax.sh).
module github.com/ai-dualstack/alloy-syntax

go 1.26.0

require github.com/grafana/alloy/syntax v0.1.0

require (
	github.com/fatih/color v1.15.0 // indirect
	github.com/mattn/go-colorable v0.1.13 // indirect
	github.com/mattn/go-isatty v0.0.17 // indirect
	golang.org/x/sys v0.6.0 // indirect
)
