package file

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/logpipe/logpipe/pipeline"
)

type refEvent struct {
	msg   string
	off   int64
	flags pipeline.Flags
}

// reference splits content the simple way: what the streaming parser must produce.
func reference(content []byte, maxLine int, final bool) []refEvent {
	var out []refEvent
	var off int64
	for len(content) > 0 {
		i := bytes.IndexByte(content, '\n')
		if i < 0 && !final {
			break
		}
		line := content
		if i >= 0 {
			line = content[:i]
		}
		var flags pipeline.Flags
		msg := line
		if len(msg) > 0 && msg[len(msg)-1] == '\r' {
			msg = msg[:len(msg)-1]
		}
		if len(msg) > maxLine {
			msg = msg[:cutRune(msg[:maxLine], 0)]
			flags |= pipeline.FlagTruncated
		}
		if !utf8.Valid(msg) {
			flags |= pipeline.FlagInvalidUTF8
		}
		out = append(out, refEvent{string(msg), off, flags})
		if i < 0 {
			break
		}
		off += int64(i + 1)
		content = content[i+1:]
	}
	return out
}

// parse runs the streaming parser over content cut into chunks at the given sizes.
func parse(t testing.TB, in *Input, content []byte, sizes []int, final bool) ([]pipeline.Event, int64) {
	st := &state{tracker: pipeline.NewTracker(0), origin: &pipeline.FileOrigin{}}
	s := &sink{}
	ctx := context.Background()
	for k := 0; len(content) > 0; k++ {
		n := len(content)
		if len(sizes) > 0 {
			n = min(n, max(1, sizes[k%len(sizes)]))
		}
		p := content[:n]
		content = content[n:]
		for len(p) > 0 {
			used, full := in.consume(st, p, testNow)
			p = p[used:]
			if full {
				in.flush(ctx, st, s.emit, false)
			}
		}
		in.flush(ctx, st, s.emit, false)
	}
	if final {
		in.flush(ctx, st, s.emit, true)
	}
	return s.events(), st.tracker.Committed()
}

func parserInput(t testing.TB, maxLine, batchEvents int) *Input {
	c := testConfig("unused")
	c.MaxLineBytes = strconv.Itoa(maxLine)
	c.BatchEvents = batchEvents
	c.BatchBytes = "64"
	stage, _ := testStage("/nonexistent/logpipe-parser-test", false) // New only reads the registry
	in, err := New(c, stage)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func checkParse(t testing.TB, in *Input, content []byte, sizes []int, final bool) {
	got, committed := parse(t, in, content, sizes, final)
	want := reference(content, in.cfg.maxLine, final)
	if len(got) != len(want) {
		t.Fatalf("content %q sizes %v final %v: %d events, want %d\n got %v\nwant %v", content, sizes, final, len(got), len(want), got, want)
	}
	for i, w := range want {
		g := got[i]
		if string(g.Message) != w.msg || g.Offset != w.off || g.Flags != w.flags {
			t.Fatalf("content %q sizes %v: event %d = %q@%d %v, want %q@%d %v", content, sizes, i, g.Message, g.Offset, g.Flags, w.msg, w.off, w.flags)
		}
	}
	// Committed is the end of the last complete line (or everything, after a final flush).
	wantCommitted := int64(bytes.LastIndexByte(content, '\n') + 1)
	if final {
		wantCommitted = int64(len(content))
	}
	if committed != wantCommitted {
		t.Fatalf("content %q sizes %v final %v: committed %d, want %d", content, sizes, final, committed, wantCommitted)
	}
}

// TestParserMatchesReference feeds random content in random chunks.
func TestParserMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\r\n\n\xc3\xa9\xff")
	for iter := range 400 {
		maxLine := 1 + r.IntN(12)
		in := parserInput(t, maxLine, 1+r.IntN(5))
		content := make([]byte, r.IntN(80))
		for i := range content {
			content[i] = alphabet[r.IntN(len(alphabet))]
		}
		sizes := make([]int, 1+r.IntN(4))
		for i := range sizes {
			sizes[i] = 1 + r.IntN(20)
		}
		checkParse(t, in, content, sizes, iter%2 == 0)
	}
}

func FuzzParser(f *testing.F) {
	f.Add([]byte("abc\r\ndef\nghi"), uint8(3), uint8(2), true)
	f.Add([]byte("\n\n\r\n"), uint8(1), uint8(1), false)
	f.Add([]byte("h\xc3\xa9llo w\xc3\xb6rld\n"), uint8(4), uint8(5), false)
	f.Fuzz(func(t *testing.T, content []byte, maxLine, chunk uint8, final bool) {
		in := parserInput(t, int(maxLine%64)+1, 3)
		checkParse(t, in, content, []int{int(chunk%32) + 1, int(chunk%7) + 1}, final)
	})
}
