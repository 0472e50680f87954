package main

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
	"github.com/logpipe/logpipe/pipeline"
)

// runValidate loads a configuration file with every registered stage type and prints each
// problem as file:line:col: message. Unless --syntax-only is given, it also checks what the
// file names on this host (pipeline.CheckHost: certificate, key and secret files, data_dir).
// It exits 0 only when there is no error, exitConfig otherwise.
func runValidate(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	fs := newFlagSet("validate", "-c FILE [--syntax-only]", stderr)
	path := configFlag(fs)
	syntaxOnly := fs.Bool("syntax-only", false, "check the file only, not the files and directories it names on this host (for a file meant for another host)")
	if code, done := parseConfigFlags(fs, args, path); done {
		return code
	}
	cfg, diags := loadChecked(*path, stages.Registry(os.Stdout), lookupEnv, !*syntaxOnly)
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
		return exitConfig
	}
	fmt.Fprintf(stdout, "config OK: %s, %s, %s\n",
		plural(len(cfg.Inputs), "input"), plural(len(cfg.Filters), "filter"), plural(len(cfg.Outputs), "output"))
	return exitOK
}

// loadChecked loads the configuration file at path and, when host is set and the file
// loaded without error, runs the host checks too (pipeline.CheckHost).
func loadChecked(path string, reg *pipeline.Registry, lookupEnv func(string) (string, bool), host bool) (*pipeline.Config, hcl.Diagnostics) {
	cfg, diags := pipeline.LoadFile(path, reg, lookupEnv)
	if host && !diags.HasErrors() {
		diags = append(diags, pipeline.CheckHost(cfg)...)
	}
	return cfg, diags
}
