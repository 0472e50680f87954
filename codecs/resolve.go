package codecs

import (
	"fmt"
	"strings"

	"github.com/logpipe/logpipe/pipeline"
)

// ResolveEncoder finds the codec called name in s.Codecs and returns its encoder for
// s.Agent. An unknown codec is reported as a *pipeline.AttrError on the attribute "codec",
// listing the known ones. Stages that take a `codec` attribute call it from their Build.
func ResolveEncoder(s pipeline.Stage, name string) (pipeline.Encoder, error) {
	if s.Codecs == nil {
		return nil, fmt.Errorf("%s: no codec registry", s.ID())
	}
	c, ok := s.Codecs.Codec(name)
	if !ok || c.NewEncoder == nil {
		return nil, pipeline.AttrErrorf("codec", "unknown codec %q (known: %s)", name,
			strings.Join(s.Codecs.Names("codec"), ", "))
	}
	return c.NewEncoder(s.Agent), nil
}

// ResolveDecoder finds the codec called name in s.Codecs and returns its decoder factory:
// an input calls it once per goroutine that decodes, since a Decoder may keep scratch state
// and is not safe for concurrent use. An unknown or encode-only codec is reported as a
// *pipeline.AttrError on the attribute "codec", listing the codecs that decode.
func ResolveDecoder(s pipeline.Stage, name string) (func() pipeline.Decoder, error) {
	if s.Codecs == nil {
		return nil, fmt.Errorf("%s: no codec registry", s.ID())
	}
	c, ok := s.Codecs.Codec(name)
	if !ok || c.NewDecoder == nil {
		var names []string
		for _, n := range s.Codecs.Names("codec") {
			if t, _ := s.Codecs.Codec(n); t.NewDecoder != nil {
				names = append(names, n)
			}
		}
		what := "unknown"
		if ok {
			what = "encode-only"
		}
		return nil, pipeline.AttrErrorf("codec", "%s codec %q (codecs that decode: %s)", what, name,
			strings.Join(names, ", "))
	}
	return c.NewDecoder, nil
}
