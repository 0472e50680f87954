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
	base      Ticket  // ticket of entries[0]
	entries   []entry // batches not yet passed by committed, in Add order
	next      Ticket
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
	if n := len(t.entries); n > 0 {
		last = t.entries[n-1].end
	}
	if end < last {
		panic(fmt.Sprintf("pipeline: Tracker.Add(%d) after position %d", end, last))
	}
	if len(t.entries) == 0 {
		t.base = t.next
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
	if tk < t.base || tk >= t.base+Ticket(len(t.entries)) {
		return false
	}
	t.entries[tk-t.base].acked = true
	n := 0
	for n < len(t.entries) && t.entries[n].acked {
		t.committed = t.entries[n].end
		n++
	}
	if n == 0 {
		return false
	}
	// Drop the passed prefix; copy down so the slice does not grow without bound.
	rest := copy(t.entries, t.entries[n:])
	clear(t.entries[rest:])
	t.entries = t.entries[:rest]
	t.base += Ticket(n)
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
	return len(t.entries)
}
