package pipeline

import "testing"

func TestBufClass(t *testing.T) {
	for _, c := range []struct{ n, class int }{
		{0, 0}, {1, 0}, {64 << 10, 0}, {64<<10 + 1, 1}, {80 << 10, 1}, {80<<10 + 1, 2}, {112 << 10, 3},
		{112<<10 + 1, 4}, {128 << 10, 4}, {1 << 20, 16}, {1<<20 + 1, 17}, {64 << 20, 40}, {64<<20 + 1, -1},
	} {
		if got := bufClass(c.n); got != c.class {
			t.Errorf("bufClass(%d) = %d, want %d", c.n, got, c.class)
		}
	}
	// Every size gets the smallest class that holds it, and no class wastes more than a
	// quarter of its buffer.
	for n := 1; n <= 64<<20; n += 4093 {
		c := bufClass(n)
		if c < 0 || bufSize(c) < n || (c > 0 && bufSize(c-1) >= n) {
			t.Fatalf("bufClass(%d) = %d (size %d)", n, c, bufSize(c))
		}
		if n > 64<<10 && bufSize(c) > n+n/4 {
			t.Fatalf("bufClass(%d): size %d wastes more than a quarter", n, bufSize(c))
		}
	}
}

// TestRecycleAfterFinalAck: a buffer handed to a batch goes back to the pool only when the
// last holder acknowledged the batch, and then comes out of Get again; buffers of other
// sizes are left to the collector.
func TestRecycleAfterFinalAck(t *testing.T) {
	var pool Buffers
	buf := pool.Get(100 << 10)
	if cap(buf) != 112<<10 || len(buf) != 0 {
		t.Fatalf("Get(100KiB) = len %d cap %d, want an empty 112 KiB buffer", len(buf), cap(buf))
	}
	buf = append(buf, "document bytes"...)
	b := NewBatch("d", []Event{{Doc: buf}}, nil)
	b.Recycle(&pool, buf)
	b.Recycle(&pool, make([]byte, 0, 100<<10)) // not a class size: never pooled
	b.Retain(1)                                // two outputs
	b.Ack()
	if string(b.Events[0].Doc) != "document bytes" {
		t.Fatalf("the buffer changed before the final acknowledgement: %q", b.Events[0].Doc)
	}
	b.Ack()
	// sync.Pool may drop what it holds (a collection, or the race detector's random
	// drops), so look for the buffer over a few rounds rather than expecting it at once.
	for range 100 {
		got := pool.Get(112 << 10)
		if &got[:1][0] == &buf[:1][0] {
			if raceEnabled && got[:1][0] != 0xfe {
				t.Fatalf("recycled buffer not poisoned in a race build")
			}
			return
		}
		b := NewBatch("d", nil, nil)
		b.Recycle(&pool, buf)
		b.Ack()
	}
	t.Fatal("the recycled buffer never came back from Get")
}

func TestNilBuffersAllocate(t *testing.T) {
	var p *Buffers
	if b := p.Get(10); cap(b) < 10 {
		t.Fatalf("nil pool: cap %d", cap(b))
	}
	b := NewBatch("d", nil, nil)
	b.Recycle(p, make([]byte, 0, 64<<10))
	b.Ack() // must not panic
}

// TestRewrittenReleasesEarlierBuffers: when a filter wrote every event anew, the input's
// buffer goes back to the pool at once, and the filter's own only after the final
// acknowledgement. (Whether sync.Pool keeps a buffer is its choice, so the test looks at
// what the batch handed back, and in race builds at the poison put writes.)
func TestRewrittenReleasesEarlierBuffers(t *testing.T) {
	var pool Buffers
	in := append(pool.Get(100<<10), "input document"...)
	b := NewBatch("d", []Event{{Doc: in}}, nil)
	b.Recycle(&pool, in)

	out := append(pool.Get(200<<10), "filtered document"...)
	b.Events[0].Doc = out
	b.Rewritten(&pool, out)
	if len(b.recycle) != 1 || &b.recycle[0].buf[:1][0] != &out[0] {
		t.Fatalf("after Rewritten the batch holds %d buffers, want only the filter's", len(b.recycle))
	}
	if raceEnabled && in[0] != 0xfe {
		t.Fatal("the input's buffer was not put back (and poisoned) when the filter rewrote every event")
	}
	if string(b.Events[0].Doc) != "filtered document" {
		t.Fatalf("the filtered document changed before the acknowledgement: %q", b.Events[0].Doc)
	}
	b.Ack()
	if b.recycle != nil || (raceEnabled && out[0] != 0xfe) {
		t.Fatal("the filter's buffer did not go back to the pool after the acknowledgement")
	}
}

// TestEventsRecycledAfterFinalAck: an event slice handed to a batch goes back to the pool
// only when the last holder acknowledged the batch; Events hands it out again with every
// element zero, whatever the batch left in it.
func TestEventsRecycledAfterFinalAck(t *testing.T) {
	var pool Buffers
	evs := pool.Events(1024)[:3]
	if cap(evs) != 1024 {
		t.Fatalf("Events(1024): cap %d", cap(evs))
	}
	evs[0].ID, evs[2].Doc = "a", []byte("{}")
	b := NewBatch("d", evs, nil)
	b.RecycleEvents(&pool)
	b.Events = b.Events[:1] // a filter shortened it in place
	b.Retain(1)             // two outputs
	b.Ack()
	if b.Events[0].ID != "a" {
		t.Fatalf("the events changed before the final acknowledgement: %+v", b.Events[0])
	}
	b.Ack()
	if raceEnabled && evs[0].Partition != -2 {
		t.Fatalf("recycled events not poisoned in a race build: %+v", evs[0])
	}
	if !raceEnabled && evs[0].ID != "" {
		t.Fatalf("recycled events not cleared: %+v", evs[0])
	}
	// sync.Pool may drop what it holds (a collection, or the race detector's random drops),
	// so hand the slice back again each round until Events returns it.
	for range 100 {
		got := pool.Events(512)
		if &got[:1][0] == &evs[0] {
			for i, e := range got[:cap(got)] {
				if e.ID != "" || e.Doc != nil || e.Partition != 0 {
					t.Fatalf("element %d of a recycled slice is not zero: %+v", i, e)
				}
			}
			return
		}
		b := NewBatch("d", evs[:1], nil)
		b.RecycleEvents(&pool)
		b.Ack()
	}
	t.Fatal("the acknowledged batch's events never came back from the pool")
}

// Small slices (a tailed file's few lines) and a nil pool allocate, and pool nothing.
func TestEventsSmallOrNilPool(t *testing.T) {
	var p *Buffers
	if evs := p.Events(10); cap(evs) != 10 {
		t.Fatalf("nil pool: cap %d", cap(evs))
	}
	var pool Buffers
	small := pool.Events(10)
	b := NewBatch("d", small[:1], nil)
	b.RecycleEvents(&pool)
	b.Ack()
	if got := pool.Events(10); cap(got) == 10 && &got[:1][0] == &small[:1][0] {
		t.Fatal("a slice below minPooledEvents was pooled")
	}
}
