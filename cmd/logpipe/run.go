package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/metrics"
)

// runPipeline is `logpipe ship` and `logpipe index`: both load a configuration and run its
// pipeline until SIGINT/SIGTERM (or, with --once, until every input reached its end and
// everything read was acknowledged). The two differ only in their name in logs and help:
// the configuration decides what runs.
func runPipeline(role string, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	fs := newFlagSet(role, "-c FILE [--once] [--log-level LEVEL]", stderr)
	path := configFlag(fs)
	once := fs.Bool("once", false, "stop when every input reached its end and all it read was acknowledged")
	logLevel := fs.String("log-level", "", "override logging.level: debug, info, warn or error")
	prof := profileFlags(fs)
	flagsUsage := fs.Usage
	fs.Usage = func() { flagsUsage(); fmt.Fprint(fs.Output(), "\n"+signalsHelp) }
	if code, done := parseConfigFlags(fs, args, path); done {
		return code
	}
	reg := stages.Registry(stdout)
	cfg, diags := pipeline.LoadFile(*path, reg, lookupEnv)
	if diags.HasErrors() {
		fmt.Fprint(stderr, pipeline.FormatDiagnostics(diags))
		return exitConfig
	}
	level := cfg.Logging.Level
	if *logLevel != "" {
		level = *logLevel
	}
	log, atomicLevel, err := newLeveledLogger(stderr, level, cfg.Logging.Format)
	if err != nil {
		fmt.Fprintf(stderr, "logpipe %s: %v\n", role, err)
		return exitUsage
	}
	defer func() { _ = log.Sync() }()
	for _, d := range diags { // warnings only, by now
		log.Warn("config: "+d.Summary, zap.String("detail", d.Detail), zap.Stringer("at", d.Subject))
	}
	warnLiteralSecrets(*path, log)

	// Signals are caught from here on (before "starting" is logged): a signal while the
	// stages are built is handled as soon as the pipeline runs.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	agent, err := newAgent(cfg.DataDir, version)
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return exitFailure
	}
	log = log.With(zap.String("role", role))
	log.Info("starting", zap.String("version", version), zap.String("config", *path),
		zap.String("agent_id", agent.ID), zap.String("ephemeral_id", agent.EphemeralID),
		zap.Int("inputs", len(cfg.Inputs)), zap.Int("filters", len(cfg.Filters)), zap.Int("outputs", len(cfg.Outputs)),
		zap.Bool("once", *once))
	opts := pipeline.RunnerOptions{Once: *once, Agent: agent, Log: log}
	runner, err := pipeline.NewRunner(cfg, reg, opts)
	if err != nil {
		log.Error("cannot build the pipeline", zap.Error(err))
		return exitFailure
	}
	live := &liveRunner{}
	live.set(runner)
	if cfg.Metrics != nil {
		srv, err := metrics.Serve(context.Background(), cfg.Metrics.Address, live, log, metrics.BuildInfo(version))
		if err != nil {
			log.Error("cannot start the metrics endpoint", zap.Error(err))
			return exitFailure
		}
		log.Info("serving /metrics, /healthz and /readyz", zap.String("address", srv.Addr()))
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Stop(ctx)
		}()
	}

	defer applyMemoryPolicy(cfg, lookupEnv)()
	if err := prof.start(); err != nil {
		log.Error("cannot profile", zap.Error(err))
		return exitFailure
	}
	sup := &supervisor{path: *path, reg: reg, lookupEnv: lookupEnv, opts: opts, log: log, live: live, cfg: cfg,
		level: atomicLevel, levelFromFlag: *logLevel != ""}
	code := sup.run(runner, sigs)
	if err := prof.stop(); err != nil {
		log.Error("cannot write the profile", zap.Error(err))
	}
	return code
}

// signalsHelp is the signal table of `logpipe help`.
const signalsHelp = `Signals (ship and index):
  SIGINT, SIGTERM  drain (inputs stop, in-flight batches finish within drain_timeout, positions
                   are committed) and exit 0; a second one exits at once (130, 143)
  SIGHUP           reload the configuration file: if it is invalid, log why and keep running
                   the current pipeline; if it is valid, drain and commit the current pipeline,
                   then start the new one (nothing lost, nothing sent twice). data_dir cannot
                   change on reload; logging.level applies at once; changes to the metrics
                   block and logging.format need a restart.
`

// supervisor runs the pipeline of a `ship` or `index` process and handles its signals.
type supervisor struct {
	path      string // the configuration file, read again on SIGHUP ("" : no reload)
	reg       *pipeline.Registry
	lookupEnv func(string) (string, bool)
	opts      pipeline.RunnerOptions
	log       *zap.Logger
	live      *liveRunner
	cfg       *pipeline.Config // the configuration running now
	// level is the process logger's level: a reload applies logging.level to it, unless
	// --log-level set it (levelFromFlag).
	level         zap.AtomicLevel
	levelFromFlag bool
}

// run runs r until it returns or a stop signal arrives.
//
// SIGINT or SIGTERM cancels the run context, so the pipeline drains (within drain_timeout)
// and the exit code is 0 if it drained cleanly. A second one returns 128+signal number at
// once (130 for SIGINT, 143 for SIGTERM) without waiting for the drain; the caller exits the
// process.
//
// SIGHUP reloads: the file is loaded and checked (pipeline.LoadFile, pipeline.CheckHost);
// when it has errors, they are logged and the running pipeline goes on untouched. Otherwise
// the running pipeline is drained like on SIGTERM (its inputs commit every acknowledged
// position), and then a runner for the new configuration is built and started, reading on
// from those positions. If the new runner cannot be built, the previous configuration is
// started again.
func (s *supervisor) run(r *pipeline.Runner, sigs <-chan os.Signal) int {
	for {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		var next *pipeline.Config // a validated configuration waiting for the drain
		stopping := false
	wait:
		for {
			select {
			case err := <-done:
				cancel()
				if err != nil {
					s.log.Error("pipeline failed", zap.Error(err))
					return exitFailure
				}
				if next == nil || stopping {
					s.log.Info("stopped")
					return exitOK
				}
				if n := r.RunnerStats().Outstanding; n > 0 {
					s.log.Warn("reload: batches left unacknowledged by the drain will be read again by the new pipeline",
						zap.Int64("unacknowledged_batches", n))
				}
				break wait
			case sig := <-sigs:
				switch {
				case sig == syscall.SIGHUP && (stopping || next != nil || s.path == ""):
					s.log.Info("SIGHUP ignored: the pipeline is already stopping or reloading")
				case sig == syscall.SIGHUP:
					if cfg := s.loadNew(); cfg != nil {
						next = cfg
						s.log.Info("reloading: draining the current pipeline before starting the new one",
							zap.String("config", s.path))
						cancel()
					}
				case !stopping:
					stopping = true
					s.log.Info("signal received, draining; send it again to exit at once", zap.Stringer("signal", sig))
					cancel()
				default:
					s.log.Warn("second signal, exiting without waiting for the drain", zap.Stringer("signal", sig))
					cancel()
					return signalExitCode(sig)
				}
			}
		}
		nr, err := pipeline.NewRunner(next, s.reg, s.opts)
		if err != nil {
			s.log.Error("reload: cannot build the new pipeline; starting the previous configuration again", zap.Error(err))
			if nr, err = pipeline.NewRunner(s.cfg, s.reg, s.opts); err != nil {
				s.log.Error("cannot build the previous pipeline either", zap.Error(err))
				return exitFailure
			}
		} else {
			s.applyLogLevel(next)
			s.cfg = next
			_ = applyMemoryPolicy(next, s.lookupEnv) // the caller restores the original limit at exit
			s.log.Info("reloaded", zap.String("config", s.path), zap.Int("inputs", len(next.Inputs)),
				zap.Int("filters", len(next.Filters)), zap.Int("outputs", len(next.Outputs)))
		}
		r = nr
		s.live.set(r)
	}
}

// loadNew loads and checks the configuration file for a reload. It returns nil, after
// logging every problem, when the file cannot replace the running configuration.
func (s *supervisor) loadNew() *pipeline.Config {
	s.log.Info("SIGHUP: loading the configuration again", zap.String("config", s.path))
	cfg, diags := loadChecked(s.path, s.reg, s.lookupEnv, true)
	if cfg != nil && !diags.HasErrors() && cfg.DataDir != s.cfg.DataDir {
		s.log.Error("reload refused: data_dir cannot change on reload (the new pipeline would not find the positions committed in the old one); restart logpipe to change it, the current pipeline keeps running",
			zap.String("data_dir", s.cfg.DataDir), zap.String("new_data_dir", cfg.DataDir))
		return nil
	}
	if diags.HasErrors() {
		s.log.Error("reload refused: the new configuration has errors; the current pipeline keeps running",
			zap.String("config", s.path), zap.String("problems", strings.TrimSpace(pipeline.FormatDiagnostics(diags))))
		return nil
	}
	for _, d := range diags {
		s.log.Warn("config: "+d.Summary, zap.String("detail", d.Detail), zap.Stringer("at", d.Subject))
	}
	warnLiteralSecrets(s.path, s.log)
	if !reflect.DeepEqual(cfg.Metrics, s.cfg.Metrics) || cfg.Logging.Format != s.cfg.Logging.Format {
		s.log.Warn("reload: changes to the metrics block and to logging.format take effect at the next restart")
	}
	return cfg
}

// applyLogLevel applies the logging.level of a reloaded configuration, unless the command
// line fixed the level.
func (s *supervisor) applyLogLevel(cfg *pipeline.Config) {
	if s.levelFromFlag || cfg.Logging.Level == s.cfg.Logging.Level {
		return
	}
	l, err := zapcore.ParseLevel(cfg.Logging.Level)
	if err != nil { // the loader accepts only valid levels
		return
	}
	s.level.SetLevel(l)
	s.log.Warn("reload: log level changed", zap.String("from", s.cfg.Logging.Level), zap.String("to", cfg.Logging.Level))
}

// liveRunner forwards the metrics endpoint's reads to the runner of the moment (a reload
// replaces it).
type liveRunner struct {
	r atomic.Pointer[pipeline.Runner]
}

func (l *liveRunner) set(r *pipeline.Runner) { l.r.Store(r) }

// Stats implements metrics.Source.
func (l *liveRunner) Stats() []pipeline.StageStats { return l.r.Load().Stats() }

// RunnerStats implements metrics.Source.
func (l *liveRunner) RunnerStats() pipeline.RunnerStats { return l.r.Load().RunnerStats() }

// Ready implements metrics.Source.
func (l *liveRunner) Ready(ctx context.Context) error { return l.r.Load().Ready(ctx) }

// StageMetrics implements metrics.Source.
func (l *liveRunner) StageMetrics() prometheus.Gatherer { return l.r.Load().StageMetrics() }

// signalExitCode is the shell's convention for death by signal: 128 + its number.
func signalExitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return exitFailure
}
