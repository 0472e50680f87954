package kafka

import (
	"context"
	"sync"
	"sync/atomic"
)

// msgOverhead approximates the memory of one fetched record besides its key and value: its
// slot in the fetch's record slice (80 bytes), its framing in the decompressed batch, and
// its share of the compressed response.
const msgOverhead = 160

// minReserve is the smallest reservation of a fetch.
const minReserve = 64 << 10

// firstReserveShare is the smallest reservation of a partition's first fetch (once the
// input's first fetch is done), as a share of the budget (256 KiB of the default 4 MiB): an
// idle topic's partitions start fetching 16 at a time, not one after the other.
const firstReserveShare = 16

// byteBudget is the input's one budget for fetched-but-not-emitted data across all its
// partitions (the fetch_budget attribute): the records of a fetch from the moment they
// are read until their batch was handed to the pipeline (whose queue bounds them from
// then on), including a decoded batch waiting for room in the queue.
//
// A partition reserves an estimate of what its next fetch will hold before it fetches
// (acquire), trues the reservation up to what the fetch really holds once it is read
// (adjust), and releases the bytes of each batch once the pipeline took it. A partition
// waits while the budget is spent, so the memory held by fetches does not grow with the
// number of partitions. The estimate is the partition's last fetch plus a quarter, or,
// for a partition that has not fetched yet, the largest fetch seen so far (at least a
// sixteenth of the budget; the whole budget before any fetch: the first one runs alone).
// A fetch larger than its estimate (a partition that was idle receiving a burst) can
// exceed the budget by the difference until it is emitted.
type byteBudget struct {
	limit     int64
	maxSeen   atomic.Int64 // largest fetch held so far
	firstDone atomic.Bool  // the input's first fetch was read

	mu    sync.Mutex
	used  int64
	queue []*budgetWaiter // reservations waiting, first come first served
}

type budgetWaiter struct {
	lastHeld int64         // what the partition's last fetch held; -1 before its first
	n        int64         // the reservation, set when granted
	ready    chan struct{} // closed when the reservation was granted
}

func newByteBudget(limit int64) *byteBudget {
	return &byteBudget{limit: limit}
}

// fits reports whether a reservation of n bytes fits now (an empty budget admits any, so
// progress never stops). Called with b.mu held.
func (b *byteBudget) fits(n int64) bool { return b.used == 0 || b.used+n <= b.limit }

// acquire reserves room for the next fetch of a partition whose last fetch held lastHeld
// bytes (-1 before its first; see reservation), waiting while it does not fit, and returns
// the bytes reserved. Waiting reservations are granted in order, so a large one is not
// starved by small ones; the reservation is computed when it is granted, from what was
// seen by then. It returns false if ctx ended first.
func (b *byteBudget) acquire(ctx context.Context, lastHeld int64) (int64, bool) {
	b.mu.Lock()
	if n := b.reservation(lastHeld); len(b.queue) == 0 && b.fits(n) {
		b.used += n
		b.mu.Unlock()
		return n, true
	}
	w := &budgetWaiter{lastHeld: lastHeld, ready: make(chan struct{})}
	b.queue = append(b.queue, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return w.n, true
	case <-ctx.Done():
	}
	b.mu.Lock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.used -= w.n
	default:
		for i, q := range b.queue {
			if q == w {
				b.queue = append(b.queue[:i], b.queue[i+1:]...)
				break
			}
		}
	}
	b.grant()
	b.mu.Unlock()
	return 0, false
}

// grant admits the waiting reservations that fit, in order. Called with b.mu held.
func (b *byteBudget) grant() {
	for len(b.queue) > 0 {
		w := b.queue[0]
		w.n = b.reservation(w.lastHeld)
		if !b.fits(w.n) {
			return
		}
		b.queue[0] = nil
		b.queue = b.queue[1:]
		b.used += w.n
		close(w.ready)
	}
}

// release returns n bytes to the budget.
func (b *byteBudget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// adjust turns a reservation of reserved bytes into one of held bytes.
func (b *byteBudget) adjust(reserved, held int64) {
	if !b.firstDone.Load() || held > b.maxSeen.Load() {
		b.firstDone.Store(true)
		b.seen(held)
	}
	if held < reserved {
		b.release(reserved - held)
		return
	}
	b.mu.Lock()
	b.used += held - reserved
	b.mu.Unlock()
}

// seen records the size of a fetch (which may change the reservations of waiters).
func (b *byteBudget) seen(held int64) {
	for {
		seen := b.maxSeen.Load()
		if held <= seen || b.maxSeen.CompareAndSwap(seen, held) {
			break
		}
	}
	b.mu.Lock()
	b.grant()
	b.mu.Unlock()
}

// inUse returns the bytes reserved or held.
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// reservation is what a partition whose last fetch held lastHeld bytes (-1 before its
// first) reserves before its next fetch.
func (b *byteBudget) reservation(lastHeld int64) int64 {
	est := lastHeld + lastHeld/4
	if lastHeld < 0 {
		est = b.limit // the input's first fetch runs alone
		if b.firstDone.Load() {
			est = max(b.maxSeen.Load(), b.limit/firstReserveShare)
		}
	}
	return min(max(est, minReserve), b.limit)
}

// heldBytes is the memory msgs hold, as the budget counts it.
func heldBytes(msgs []record) int64 {
	n := int64(0)
	for i := range msgs {
		n += int64(len(msgs[i].Value)+len(msgs[i].Key)) + msgOverhead
	}
	return n
}
