package main

import (
	"io"
	"os"

	"github.com/logpipe/logpipe/cmd/logpipe/stages"
	"github.com/logpipe/logpipe/pipeline"
)

// newRegistry returns a registry holding every stage and codec type of logpipe, with the
// stdout output writing to the process's standard output.
func newRegistry() *pipeline.Registry { return stages.Registry(os.Stdout) }

// newRegistryTo is newRegistry with the stdout output writing to w, so that `run` can be
// tested in-process.
func newRegistryTo(w io.Writer) *pipeline.Registry { return stages.Registry(w) }
