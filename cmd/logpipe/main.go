// Command logpipe ships log files into Kafka and indexes Kafka topics into Elasticsearch,
// replacing Filebeat -> Kafka -> Logstash -> Elasticsearch with one binary:
//
//	logpipe ship  -c ship.hcl     # tail files into Kafka
//	logpipe index -c index.hcl    # consume Kafka into Elasticsearch
//	logpipe validate -c FILE      # print every problem of a configuration file
//	logpipe setup -c index.hcl    # install the index template and Kibana objects
//	logpipe version
//
// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error; after a second
// SIGINT or SIGTERM during a drain, 130 or 143.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // runtime failure
	exitUsage   = 2 // bad command line or configuration
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int
}

func commands() []command {
	return []command{
		{"ship", "tail files and ship their lines, usually into Kafka (logpipe ship -c ship.hcl)",
			func(args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
				return runPipeline("ship", args, stdout, stderr, env)
			}},
		{"index", "consume Kafka and index the events, usually into Elasticsearch (logpipe index -c index.hcl)",
			func(args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
				return runPipeline("index", args, stdout, stderr, env)
			}},
		{"validate", "load a configuration file and print every problem (logpipe validate -c FILE)", runValidate},
		{"setup", "install the Elasticsearch index template and Kibana objects (logpipe setup -c index.hcl)", runSetup},
		{"version", "print the version", runVersion},
	}
}

// run is the whole program: it parses args (without the program name), runs one
// subcommand and returns the exit code. It touches no global state, so tests call it
// in-process; lookupEnv serves env() in configuration files.
func run(args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return runVersion(nil, stdout, stderr, lookupEnv)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr, lookupEnv)
		}
	}
	fmt.Fprintf(stderr, "logpipe: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, "logpipe ships log files through Kafka into Elasticsearch.\n\n")
	fmt.Fprint(w, "Usage: logpipe <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'logpipe <command> --help' for the flags of a command.\n")
	fmt.Fprint(w, "Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.\n")
}

// newFlagSet returns a flag set for subcommand name that writes its usage to stderr and
// does not exit on errors.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("logpipe "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: logpipe %s %s\n\nFlags:\n", name, synopsis)
		printVisibleDefaults(fs)
	}
	return fs
}

// configFlag registers -c and --config on fs.
func configFlag(fs *flag.FlagSet) *string {
	var path string
	fs.StringVar(&path, "c", "", "configuration `FILE` (HCL)")
	fs.StringVar(&path, "config", "", "same as -c `FILE`")
	return &path
}

// parseFlags parses args, returning (0, false) to continue, or the exit code: 0 after
// --help (its usage went to stderr), 2 for a bad command line.
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitUsage, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage, true
	}
	return 0, false
}

// parseConfigFlags is parseFlags for the commands that need -c FILE (registered with
// configFlag as path): a missing one is a usage error.
func parseConfigFlags(fs *flag.FlagSet, args []string, path *string) (code int, done bool) {
	if code, done := parseFlags(fs, args); done {
		return code, true
	}
	if *path == "" {
		fmt.Fprintf(fs.Output(), "%s: -c FILE is required\n", fs.Name())
		fs.Usage()
		return exitUsage, true
	}
	return 0, false
}

func runVersion(args []string, stdout, stderr io.Writer, _ func(string) (string, bool)) int {
	fs := newFlagSet("version", "", stderr)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	fmt.Fprintf(stdout, "logpipe %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
