package pipeline

import (
	"fmt"
	"sync"
)

// Ticket identifies one batch registered with a Tracker.
type Ticket uint64

// Tracker computes the committed position of one ordering domain (one file, one partition)
// from acknowledgements that arrive in any order.
//
// The input calls Add for each batch in emit order, with the position just past the batch's
// last event (a byte offset after the last line, a Kafka offset + 1); the batch's onAck calls
// Ack with the ticket. Committed is the highest position below which every added batch was
// acknowledged. A batch that is never acknowledged (failed, lost in a crash) holds the
// position back forever: that is the at-least-once guarantee. A Tracker is the only thing
// allowed to move a committed position. It is safe for concurrent use.
type Tracker struct {
	mu        sync.Mutex
	committed int64
	// entries[head:] are the batches not yet passed by committed, in Add order; the passed
	// prefix is dropped lazily (see Ack), so an Ack costs O(1) amortised, not O(pending).
	entries []entry
	head    int
	base    Ticket // ticket of entries[head]
	next    Ticket
}

type entry struct {
	end   int64
	acked bool
}

// NewTracker returns a tracker whose committed position starts at start.
func NewTracker(start int64) *Tracker { return &Tracker{committed: start} }

// Add registers a batch ending (exclusively) at end and returns its ticket. Ends must not
// decrease from one Add to the next; Add panics otherwise, as that is a bug in the input.
func (t *Tracker) Add(end int64) Ticket {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := t.committed
	if n := len(t.entries); n > t.head {
		last = t.entries[n-1].end
	}
	if end < last {
		panic(fmt.Sprintf("pipeline: Tracker.Add(%d) after position %d", end, last))
	}
	if len(t.entries) == t.head {
		t.entries, t.head, t.base = t.entries[:0], 0, t.next
	}
	t.entries = append(t.entries, entry{end: end})
	tk := t.next
	t.next++
	return tk
}

// Ack marks the batch of tk as acknowledged and reports whether the committed position
// advanced. Unknown, already passed and duplicate tickets are ignored.
func (t *Tracker) Ack(tk Ticket) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tk < t.base || tk >= t.base+Ticket(len(t.entries)-t.head) {
		return false
	}
	t.entries[t.head+int(tk-t.base)].acked = true
	h := t.head
	for h < len(t.entries) && t.entries[h].acked {
		t.committed = t.entries[h].end
		h++
	}
	if h == t.head {
		return false
	}
	t.base += Ticket(h - t.head)
	t.head = h
	// Drop the passed prefix once it is at least half of the slice, so that the slice does
	// not grow without bound and each entry is copied O(1) times.
	if t.head >= len(t.entries)-t.head {
		t.entries = t.entries[:copy(t.entries, t.entries[t.head:])]
		t.head = 0
	}
	return true
}

// Committed returns the highest position below which every added batch was acknowledged.
func (t *Tracker) Committed() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committed
}

// Pending returns the number of added batches not yet passed by the committed position.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries) - t.head
}
