package codecs

import (
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

// LineEncoder is the "line" codec's encoder: the event's message followed by "\n". For a
// line event that is the line as it was read (bytes unchanged); for a document event it is
// the decoded "message" member, or the whole document when it has no string "message".
type LineEncoder struct{}

// Encode implements pipeline.Encoder.
func (LineEncoder) Encode(dst []byte, e *pipeline.Event) []byte {
	if e.Doc == nil {
		dst = append(dst, e.Message...)
		return append(dst, '\n')
	}
	if raw, ok := Lookup(e.Doc, "message"); ok && len(raw) > 0 && raw[0] == '"' {
		if out, err := AppendUnquoted(dst, raw); err == nil {
			return append(out, '\n')
		}
	}
	dst = append(dst, e.Doc...)
	return append(dst, '\n')
}

// LineDecoder is the "line" codec's decoder: the whole message becomes the "message" of a
// new document, {"@timestamp":<recordTime>,"message":<text>} (invalid UTF-8 replaced by
// U+FFFD).
type LineDecoder struct{}

// Decode implements pipeline.Decoder.
func (LineDecoder) Decode(dst, msg []byte, recordTime time.Time, e *pipeline.Event) []byte {
	e.ID = ""
	return decodeFailure(dst, msg, recordTime, e, false)
}
