package file

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/logpipe/logpipe/pipeline"
)

// With the process's buffer pool, batch slabs are reused once their batch is acknowledged,
// and never before: batches held unacknowledged keep their lines intact while later ones
// are read (in race builds a recycled buffer is overwritten at once, so a slab recycled
// early would show). Batches of 64 KiB instead of the default 1 MiB: many batches from a
// small file.
func TestSlabsRecycledAfterAck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	const n = 20000
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "line %05d %s\n", i, strings.Repeat("x", i%50))
	}
	writeFile(t, path, sb.String())
	c := testConfig(path)
	c.BatchBytes = "64KiB"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	stage, _ := testStage(filepath.Join(dir, "data"), true)
	stage.Buffers = new(pipeline.Buffers)
	in, err := New(c, stage)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())

	const lag = 3 // batches held before they are acknowledged
	var held []*pipeline.Batch
	var lines []string
	slabs := map[uintptr]bool{}
	reused, batches := 0, 0
	check := func(b *pipeline.Batch) {
		for _, e := range b.Events {
			want := fmt.Sprintf("line %05d %s", len(lines), strings.Repeat("x", len(lines)%50))
			if string(e.Message) != want {
				t.Fatalf("held batch: line %d reads %q, want %q", len(lines), e.Message, want)
			}
			lines = append(lines, string(e.Message))
		}
		b.Ack()
	}
	emit := func(ctx context.Context, b *pipeline.Batch) error {
		batches++
		if len(b.Events) > 0 {
			p := uintptr(unsafe.Pointer(unsafe.SliceData(b.Events[0].Message)))
			if slabs[p] {
				reused++
			}
			slabs[p] = true
		}
		held = append(held, b)
		if len(held) > lag {
			check(held[0])
			held = held[1:]
		}
		return nil
	}
	if err := in.Run(context.Background(), emit); err != nil {
		t.Fatal(err)
	}
	for _, b := range held {
		check(b)
	}
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	if batches < 10 {
		t.Fatalf("only %d batches", batches)
	}
	if reused == 0 {
		t.Fatalf("no slab of %d batches was reused", batches)
	}
	t.Logf("%d batches in %d slabs", batches, len(slabs))
}
