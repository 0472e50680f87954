package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

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
	if code, done := parseConfigFlags(fs, args, path); done {
		return code
	}
	reg := newRegistryTo(stdout)
	cfg, diags := pipeline.LoadFile(*path, reg, lookupEnv)
	if diags.HasErrors() {
		fmt.Fprint(stderr, pipeline.FormatDiagnostics(diags))
		return exitUsage
	}
	level := cfg.Logging.Level
	if *logLevel != "" {
		level = *logLevel
	}
	log, err := newLogger(stderr, level, cfg.Logging.Format)
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
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
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
	runner, err := pipeline.NewRunner(cfg, reg, pipeline.RunnerOptions{Once: *once, Agent: agent, Log: log})
	if err != nil {
		log.Error("cannot build the pipeline", zap.Error(err))
		return exitFailure
	}
	if cfg.Metrics != nil {
		srv, err := metrics.Serve(context.Background(), cfg.Metrics.Address, runner, log)
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

	defer applyMemoryLimit(cfg, lookupEnv)()
	if err := prof.start(); err != nil {
		log.Error("cannot profile", zap.Error(err))
		return exitUsage
	}
	code := runUntilSignalled(runner, sigs, log)
	if err := prof.stop(); err != nil {
		log.Error("cannot write the profile", zap.Error(err))
	}
	return code
}

// runUntilSignalled runs r until it returns or a signal arrives. The first signal cancels
// the run context, so the pipeline drains (within drain_timeout) and the exit code is 0 if
// it drained cleanly. A second signal returns 128+signal number at once (130 for SIGINT,
// 143 for SIGTERM) without waiting for the drain; the caller exits the process.
func runUntilSignalled(r *pipeline.Runner, sigs <-chan os.Signal, log *zap.Logger) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	draining := false
	for {
		select {
		case err := <-done:
			if err != nil {
				log.Error("pipeline failed", zap.Error(err))
				return exitFailure
			}
			log.Info("stopped")
			return exitOK
		case s := <-sigs:
			if !draining {
				draining = true
				log.Info("signal received, draining; send it again to exit at once", zap.Stringer("signal", s))
				cancel()
				continue
			}
			log.Warn("second signal, exiting without waiting for the drain", zap.Stringer("signal", s))
			return signalExitCode(s)
		}
	}
}

// signalExitCode is the shell's convention for death by signal: 128 + its number.
func signalExitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return exitFailure
}
