package main

import (
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
	"github.com/logpipe/logpipe/pipeline"
)

// runValidate loads a configuration file with every registered stage type and prints each
// problem as file:line:col: message. It exits 0 only when there is no error.
func runValidate(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	fs := newFlagSet("validate", "-c FILE", stderr)
	path := configFlag(fs)
	if code, done := parseConfigFlags(fs, args, path); done {
		return code
	}
	cfg, diags := pipeline.LoadFile(*path, newRegistry(), lookupEnv)
	fmt.Fprint(stderr, pipeline.FormatDiagnostics(diags))
	printLiteralSecrets(*path, stderr)
	if diags.HasErrors() {
		n := 0
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				n++
			}
		}
		fmt.Fprintf(stderr, "%s: %s\n", *path, plural(n, "problem"))
		return exitUsage
	}
	fmt.Fprintf(stdout, "config OK: %s, %s, %s\n",
		plural(len(cfg.Inputs), "input"), plural(len(cfg.Filters), "filter"), plural(len(cfg.Outputs), "output"))
	return exitOK
}
