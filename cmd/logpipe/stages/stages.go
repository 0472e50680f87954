// Package stages lists every stage and codec type that logpipe knows: the one place where a
// new stage package is wired into the binary (and into the tests that load configurations
// as the binary does).
package stages

import (
	"io"

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

// Registry returns a registry holding every stage and codec type, with the stdout output
// writing to w (the process's standard output in the binary). Each stage package registers
// its own types: add one line per package.
func Registry(w io.Writer) *pipeline.Registry {
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
	stdout.Register(r, w)
	return r
}
