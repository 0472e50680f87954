package pipeline

import (
	"math/rand/v2"
	"sync"
	"testing"
)

func TestTracker(t *testing.T) {
	type step struct {
		ack       int   // index of the batch (in Add order) to acknowledge
		advanced  bool  // Ack's result
		committed int64 // Committed after the ack
	}
	// Batches end at 10, 20, 30, 40, 50 (positions of a file, say); start is 0.
	ends := []int64{10, 20, 30, 40, 50}
	cases := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{0, true, 10}, {1, true, 20}, {2, true, 30}, {3, true, 40}, {4, true, 50}}},
		{"out of order", []step{{2, false, 0}, {4, false, 0}, {0, true, 10}, {1, true, 30}, {3, true, 50}}},
		{"reverse", []step{{4, false, 0}, {3, false, 0}, {2, false, 0}, {1, false, 0}, {0, true, 50}}},
		{"duplicates", []step{{1, false, 0}, {1, false, 0}, {0, true, 20}, {0, false, 20}, {1, false, 20}, {2, true, 30}}},
		{"failed batch holds the position", []step{{0, true, 10}, {2, false, 10}, {3, false, 10}, {4, false, 10}}},
		{"failed first batch", []step{{1, false, 0}, {2, false, 0}, {3, false, 0}, {4, false, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(0)
			var tks []Ticket
			for _, e := range ends {
				tks = append(tks, tr.Add(e))
			}
			for i, s := range tc.steps {
				if got := tr.Ack(tks[s.ack]); got != s.advanced {
					t.Fatalf("step %d: Ack(batch %d) = %v, want %v", i, s.ack, got, s.advanced)
				}
				if got := tr.Committed(); got != s.committed {
					t.Fatalf("step %d: Committed = %d, want %d", i, got, s.committed)
				}
			}
		})
	}
}

func TestTrackerEdges(t *testing.T) {
	tr := NewTracker(100)
	if tr.Committed() != 100 || tr.Pending() != 0 {
		t.Fatal("fresh tracker")
	}
	if tr.Ack(Ticket(7)) {
		t.Fatal("unknown ticket advanced the position")
	}
	a := tr.Add(110)
	b := tr.Add(110) // an empty batch (same end) is allowed
	c := tr.Add(150)
	if !tr.Ack(a) || tr.Committed() != 110 {
		t.Fatal("ack of first batch")
	}
	// Ticket of a batch already passed by the committed position: ignored.
	if tr.Ack(a) || tr.Committed() != 110 {
		t.Fatal("passed ticket changed the tracker")
	}
	if !tr.Ack(b) || tr.Committed() != 110 || tr.Pending() != 1 {
		t.Fatalf("empty batch: committed %d pending %d", tr.Committed(), tr.Pending())
	}
	if tr.Ack(c+1) || tr.Ack(c+1000) {
		t.Fatal("future ticket advanced the position")
	}
	if !tr.Ack(c) || tr.Committed() != 150 || tr.Pending() != 0 {
		t.Fatal("last ack")
	}
	// After draining, new batches continue from the last position and tickets stay unique.
	d := tr.Add(160)
	if d == a || d == b || d == c {
		t.Fatal("ticket reused")
	}
	if tr.Ack(c) {
		t.Fatal("old ticket acked a new batch")
	}
	if !tr.Ack(d) || tr.Committed() != 160 {
		t.Fatal("batch after drain")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Add with a decreasing end did not panic")
			}
		}()
		tr.Add(159)
	}()
}

// TestTrackerBounded: entries are dropped once passed, so a long-running tracker does not
// grow with the number of batches it has seen.
func TestTrackerBounded(t *testing.T) {
	tr := NewTracker(0)
	for i := 1; i <= 100000; i++ {
		tk := tr.Add(int64(i))
		tr.Ack(tk)
	}
	if tr.Pending() != 0 || cap(tr.entries) > 16 || tr.Committed() != 100000 {
		t.Fatalf("pending %d, cap %d, committed %d", tr.Pending(), cap(tr.entries), tr.Committed())
	}
}

// TestTrackerConcurrent: acks from many goroutines (as outputs deliver them) while the
// input keeps adding; run under -race.
func TestTrackerConcurrent(t *testing.T) {
	tr := NewTracker(0)
	const n = 20000
	tks := make(chan Ticket, 256)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for tk := range tks {
				tr.Ack(tk)
				tr.Committed()
			}
		})
	}
	var last int64
	for i := 1; i <= n; i++ {
		tks <- tr.Add(int64(i * 3))
		if c := tr.Committed(); c < last {
			t.Fatalf("committed went back from %d to %d", last, c)
		} else {
			last = c
		}
	}
	close(tks)
	wg.Wait()
	if tr.Committed() != n*3 || tr.Pending() != 0 {
		t.Fatalf("committed %d pending %d", tr.Committed(), tr.Pending())
	}
}

// FuzzTracker: batches of random sizes acknowledged in random order, with duplicates and
// batches that are never acknowledged. After every ack the committed position equals the
// end of the longest acknowledged prefix, so it never passes an unacknowledged batch.
//
// Input bytes: data[0] is the number of batches; then for each batch a size byte (0 makes
// an empty batch); the rest is the sequence of acks (batch index modulo the count; a byte
// >= 0xF0 means "ack a ticket never issued"). Batches never named are never acked.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{5, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0})
	f.Add([]byte{3, 10, 0, 10, 1, 1, 1, 2})
	f.Add([]byte{4, 7, 7, 7, 7, 3, 0xF5, 2, 1})
	f.Add([]byte{8, 1, 1, 1, 1, 1, 1, 1, 1, 7, 6, 5, 0, 0, 1, 2, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		n := int(data[0]%64) + 1
		data = data[1:]
		const start = 1000
		tr := NewTracker(start)
		ends := make([]int64, n)
		tks := make([]Ticket, n)
		pos := int64(start)
		for i := 0; i < n; i++ {
			if len(data) > 0 {
				pos += int64(data[0])
				data = data[1:]
			} else {
				pos += int64(i + 1)
			}
			ends[i] = pos
			tks[i] = tr.Add(pos)
		}
		acked := make([]bool, n)
		for _, c := range data {
			if c >= 0xF0 {
				tr.Ack(tks[n-1] + Ticket(c))
			} else {
				i := int(c) % n
				acked[i] = true
				tr.Ack(tks[i])
			}
			want := int64(start)
			for i := 0; i < n && acked[i]; i++ {
				want = ends[i]
			}
			got := tr.Committed()
			if got != want {
				t.Fatalf("committed %d, want %d (acked %v, ends %v)", got, want, acked, ends)
			}
			// Independently of want: never beyond the start of the first unacked batch.
			for i := 0; i < n; i++ {
				if !acked[i] {
					bound := int64(start)
					if i > 0 {
						bound = ends[i-1]
					}
					if got > bound {
						t.Fatalf("committed %d passed unacknowledged batch %d starting at %d", got, i, bound)
					}
					break
				}
			}
		}
		// Pending counts exactly the batches not passed.
		passed := 0
		for passed < n && acked[passed] {
			passed++
		}
		if tr.Pending() != n-passed {
			t.Fatalf("pending %d, want %d", tr.Pending(), n-passed)
		}
	})
}

func BenchmarkTrackerAddAck(b *testing.B) {
	b.Run("in-order", func(b *testing.B) {
		tr := NewTracker(0)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tr.Ack(tr.Add(int64(i)))
		}
	})
	b.Run("window-4096-in-order", func(b *testing.B) {
		// Many small batches in flight (slow tailing), acknowledged in order: each Ack must
		// not cost in proportion to the batches still pending.
		const window = 4096
		tr := NewTracker(0)
		tickets := make([]Ticket, 0, window)
		for i := 0; i < window; i++ {
			tickets = append(tickets, tr.Add(int64(i)))
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tr.Ack(tickets[i%window])
			tickets[i%window] = tr.Add(int64(window + i))
		}
	})
	b.Run("window-64-shuffled", func(b *testing.B) {
		// 64 batches in flight, acknowledged in random order.
		tr := NewTracker(0)
		r := rand.New(rand.NewPCG(1, 2))
		window := make([]Ticket, 0, 64)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			window = append(window, tr.Add(int64(i)))
			if len(window) == cap(window) {
				j := r.IntN(len(window))
				tr.Ack(window[j])
				window[j] = window[len(window)-1]
				window = window[:len(window)-1]
			}
		}
	})
}
