// Command logpipe ships log files into Kafka and indexes Kafka topics into Elasticsearch,
// replacing Filebeat -> Kafka -> Logstash -> Elasticsearch with one binary:
//
//	logpipe ship  -c ship.hcl     # tail files into Kafka
//	logpipe index -c index.hcl    # consume Kafka into Elasticsearch
//	logpipe validate -c FILE      # print every problem of a configuration file
//	logpipe test -c FILE          # check every peer, file and directory the file names
//	logpipe setup -c index.hcl    # install the index template and Kibana objects
//	logpipe version
//
// Exit codes (see exitCodesHelp): 0 success; 78 (EX_CONFIG) configuration error, not worth
// restarting; 64 (EX_USAGE) bad command line; 1 any other failure, worth restarting (a Go
// panic exits 2, also restartable); after a second SIGINT or SIGTERM during a drain, 130 or
// 143.
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

// Exit codes. Only exitConfig means "do not restart": the systemd units list it in
// RestartPreventExitStatus. Every other failure is worth a restart (a Go panic exits 2).
const (
	exitOK      = 0
	exitFailure = 1  // runtime failure (a peer, a file, a signal): restartable
	exitUsage   = 64 // bad command line (sysexits EX_USAGE)
	exitConfig  = 78 // configuration error (sysexits EX_CONFIG): fix the file, do not restart
)

// synopsisHelp is the command lines of `logpipe help`.
const synopsisHelp = `Synopsis:
  logpipe ship     -c ship.hcl  [--once] [--log-level LEVEL]
  logpipe index    -c index.hcl [--once] [--log-level LEVEL]
  logpipe validate -c FILE [--syntax-only]
  logpipe test     -c FILE [--timeout 10s]
  logpipe setup    -c index.hcl [--template] [--dashboards] [--topic]
  logpipe version
  -c FILE and --config FILE are the same flag; give it once.
  --once: stop when every input reached its end and everything read was acknowledged.
  --syntax-only: check the file only, not the files and data_dir it names on this host.
`

// exitCodesHelp is the exit code table of `logpipe help`.
const exitCodesHelp = `Exit codes:
  0    success
  1    runtime failure (peer unreachable, file or directory unusable, ...): restart
  2    crash (Go panic): restart, and please report it
  64   bad command line (EX_USAGE)
  78   configuration error (EX_CONFIG): fix the file; the systemd units do not restart on it
  130  second SIGINT during a drain (143 for SIGTERM): exited without waiting for the drain
`

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
		{"ship", "tail files and ship their lines, usually into Kafka",
			func(args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
				return runPipeline("ship", args, stdout, stderr, env)
			}},
		{"index", "consume Kafka and index the events, usually into Elasticsearch",
			func(args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
				return runPipeline("index", args, stdout, stderr, env)
			}},
		{"validate", "print every problem of a configuration file, offline (exit 78 if any)", runValidate},
		{"test", "check every peer, file and directory a configuration needs, one line each", runTest},
		{"setup", "install the index template and Kibana objects, create the Kafka topics", runSetup},
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
	fmt.Fprint(w, "\n"+synopsisHelp)
	fmt.Fprint(w, "\nRun 'logpipe <command> --help' for the flags of a command.\n\n")
	fmt.Fprint(w, signalsHelp)
	fmt.Fprint(w, "\n"+exitCodesHelp)
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

// configFlag registers -c and --config on fs. Giving the flag twice is an error: one
// process reads one file, and silently taking the last -c would run another configuration
// than the one the operator meant.
func configFlag(fs *flag.FlagSet) *string {
	v := &configValue{}
	fs.Var(v, "c", "configuration `FILE` (HCL)")
	fs.Var(v, "config", "same as -c `FILE`")
	return &v.path
}

// configValue is the flag.Value of -c and --config.
type configValue struct {
	path string
	set  bool
}

func (v *configValue) String() string { return v.path }

func (v *configValue) Set(s string) error {
	if v.set {
		return fmt.Errorf("given twice (%q, then %q): logpipe reads one configuration file per process; run one process per file", v.path, s)
	}
	v.path, v.set = s, true
	return nil
}

// parseFlags parses args, returning (0, false) to continue, or the exit code: 0 after
// --help (its usage went to stderr), exitUsage for a bad command line.
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
