package kafka

import (
	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// testCodecs returns a registry holding the real codecs (json among them).
func testCodecs() *pipeline.Registry {
	r := pipeline.NewRegistry()
	codecs.Register(r)
	return r
}
