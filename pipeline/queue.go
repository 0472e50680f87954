package pipeline

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrQueueClosed is returned by Queue.Put after Close.
var ErrQueueClosed = errors.New("pipeline: queue closed")

// Queue is a FIFO of batches bounded both in events and in bytes (Batch.Bytes), used between
// the stages of a pipeline.
//
// Put blocks while adding the batch would exceed either bound. A batch larger than a bound on
// its own is admitted when the queue is empty, so that no batch can block forever. A batch
// without events counts as one event towards the event bound, so empty batches cannot pile
// up without limit. Get blocks until a batch is available or the queue is closed and empty.
//
// Queue is safe for concurrent use by any number of producers and consumers. Waiting uses
// sync.Cond (no polling); a blocked Put is woken when its context ends.
type Queue struct {
	maxEvents int
	maxBytes  int

	mu       sync.Mutex
	notFull  sync.Cond // signalled when space is freed or on Close
	notEmpty sync.Cond // signalled when a batch is added or on Close
	buf      []*Batch  // ring buffer
	head     int       // index of the oldest batch
	n        int       // number of batches in buf
	events   int       // sum of eventCost over queued batches
	bytes    int       // sum of Bytes over queued batches
	closed   bool

	// Mirrors of the fill, readable without the lock (metrics).
	fillEvents  atomic.Int64
	fillBytes   atomic.Int64
	fillBatches atomic.Int64
	blocked     atomic.Int64 // Puts waiting for space
}

// NewQueue returns a queue holding at most maxEvents events and maxBytes bytes. A bound <= 0
// takes its default (DefaultQueueEvents, DefaultQueueBytes).
func NewQueue(maxEvents, maxBytes int) *Queue {
	if maxEvents <= 0 {
		maxEvents = DefaultQueueEvents
	}
	if maxBytes <= 0 {
		maxBytes = DefaultQueueBytes
	}
	q := &Queue{maxEvents: maxEvents, maxBytes: maxBytes, buf: make([]*Batch, 16)}
	q.notFull.L = &q.mu
	q.notEmpty.L = &q.mu
	return q
}

func eventCost(b *Batch) int {
	if n := b.Len(); n > 0 {
		return n
	}
	return 1
}

// fits reports whether a batch of ev events and by bytes can be added now. Called with mu held.
func (q *Queue) fits(ev, by int) bool {
	return q.n == 0 || (q.events+ev <= q.maxEvents && q.bytes+by <= q.maxBytes)
}

// Put appends b, blocking while the queue is full. It returns ctx.Err() if ctx has ended or
// ends first (b is then not queued) and ErrQueueClosed if the queue is closed.
func (q *Queue) Put(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ev, by := eventCost(b), b.Bytes()
	q.mu.Lock()
	if !q.closed && !q.fits(ev, by) {
		if err := ctx.Err(); err != nil {
			q.mu.Unlock()
			return err
		}
		// Slow path: wait, and be woken if ctx ends. The wake-up takes the lock so that it
		// cannot slip between the ctx check and Wait.
		stop := context.AfterFunc(ctx, func() {
			q.mu.Lock()
			q.notFull.Broadcast()
			q.mu.Unlock()
		})
		q.blocked.Add(1)
		for !q.closed && !q.fits(ev, by) && ctx.Err() == nil {
			q.notFull.Wait()
		}
		q.blocked.Add(-1)
		stop()
	}
	if q.closed {
		q.mu.Unlock()
		return ErrQueueClosed
	}
	if !q.fits(ev, by) {
		q.mu.Unlock()
		return ctx.Err()
	}
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)%len(q.buf)] = b
	q.n++
	q.events += ev
	q.bytes += by
	q.publish()
	q.mu.Unlock()
	q.notEmpty.Signal()
	return nil
}

// grow doubles the ring buffer. Called with mu held. The ring only grows while batches are
// small compared to the bounds, so its size is bounded by maxEvents.
func (q *Queue) grow() {
	nb := make([]*Batch, 2*len(q.buf))
	for i := 0; i < q.n; i++ {
		nb[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf = nb
	q.head = 0
}

func (q *Queue) publish() {
	q.fillEvents.Store(int64(q.events))
	q.fillBytes.Store(int64(q.bytes))
	q.fillBatches.Store(int64(q.n))
}

// Get removes and returns the oldest batch, blocking until one is available. It returns
// false once the queue is closed and empty.
func (q *Queue) Get() (*Batch, bool) {
	q.mu.Lock()
	for q.n == 0 && !q.closed {
		q.notEmpty.Wait()
	}
	if q.n == 0 {
		q.mu.Unlock()
		return nil, false
	}
	b := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.events -= eventCost(b)
	q.bytes -= b.Bytes()
	q.publish()
	q.mu.Unlock()
	// Several producers may be waiting for different amounts of space.
	q.notFull.Broadcast()
	return b, true
}

// Close makes every waiting and future Put fail with ErrQueueClosed. Batches already queued
// are still returned by Get, which reports false once they are gone. Close is idempotent.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.notFull.Broadcast()
	q.notEmpty.Broadcast()
}

// QueueFill is a snapshot of a queue's fill and bounds.
type QueueFill struct {
	Events, Bytes, Batches int64 // currently queued
	MaxEvents, MaxBytes    int64 // bounds
	// BlockedPuts is the number of Puts waiting for space: a non-zero value means the
	// stage after the queue is the bottleneck (backpressure).
	BlockedPuts int64
}

// Fill returns the current fill without taking the queue's lock (for metrics).
func (q *Queue) Fill() QueueFill {
	return QueueFill{
		Events:    q.fillEvents.Load(),
		Bytes:     q.fillBytes.Load(),
		Batches:   q.fillBatches.Load(),
		MaxEvents: int64(q.maxEvents),
		MaxBytes:  int64(q.maxBytes),

		BlockedPuts: q.blocked.Load(),
	}
}
