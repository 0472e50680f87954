package codecs

import (
	"errors"
	"testing"

	"github.com/logpipe/logpipe/pipeline"
)

// ResolveDecoder hands out a factory (each decoding goroutine gets its own decoder) and
// reports unknown and encode-only codecs on the attribute "codec", naming the codecs that
// decode.
func TestResolveDecoder(t *testing.T) {
	r := pipeline.NewRegistry()
	Register(r)
	s := pipeline.Stage{Kind: "input", Type: "kafka", Name: "k", Codecs: r}

	newDec, err := ResolveDecoder(s, "json")
	if err != nil {
		t.Fatal(err)
	}
	a, b := newDec(), newDec()
	if _, ok := a.(*JSONDecoder); !ok {
		t.Fatalf("json resolves to %T", a)
	}
	if a == b {
		t.Error("the factory returned one decoder twice; decoders keep scratch state")
	}

	for name, want := range map[string]string{
		"rubydebug": `codec: encode-only codec "rubydebug" (codecs that decode: json, line)`,
		"jsn":       `codec: unknown codec "jsn" (codecs that decode: json, line)`,
	} {
		_, err := ResolveDecoder(s, name)
		var ae *pipeline.AttrError
		if !errors.As(err, &ae) || ae.Attr != "codec" || err.Error() != want {
			t.Errorf("%s: got %v, want an AttrError %q", name, err, want)
		}
	}

	if _, err := ResolveDecoder(pipeline.Stage{Kind: "input", Type: "kafka", Name: "k"}, "json"); err == nil {
		t.Error("no error without a codec registry")
	}
}
