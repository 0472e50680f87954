package main

import (
	"io"
	"os"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/codecs/apache"
	fileinput "github.com/logpipe/logpipe/inputs/file"
	kafkainput "github.com/logpipe/logpipe/inputs/kafka"
	"github.com/logpipe/logpipe/outputs/elasticsearch"
	fileoutput "github.com/logpipe/logpipe/outputs/file"
	kafkaoutput "github.com/logpipe/logpipe/outputs/kafka"
	"github.com/logpipe/logpipe/outputs/stdout"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/logpipe/logpipe/pipeline/filters/drop"
	dropfields "github.com/logpipe/logpipe/pipeline/filters/drop_fields"
	"github.com/logpipe/logpipe/pipeline/filters/rename"
)

// newRegistry returns a registry holding every stage and codec type of logpipe, with the
// stdout output writing to the process's standard output.
func newRegistry() *pipeline.Registry { return newRegistryTo(os.Stdout) }

// newRegistryTo is newRegistry with the stdout output writing to w, so that `run` can be
// tested in-process. Each stage package registers its own types: add one line per package.
func newRegistryTo(w io.Writer) *pipeline.Registry {
	r := pipeline.NewRegistry()
	codecs.Register(r)
	apache.Register(r)
	drop.Register(r)
	dropfields.Register(r)
	rename.Register(r)
	fileinput.Register(r)
	kafkainput.Register(r)
	kafkaoutput.Register(r)
	elasticsearch.Register(r)
	fileoutput.Register(r)
	r.AddOutput(pipeline.Typed[pipeline.Output]("stdout", stdout.Defaults,
		func(c *stdout.Config, s pipeline.Stage) (pipeline.Output, error) { return stdout.New(c, s, w) }))
	return r
}
