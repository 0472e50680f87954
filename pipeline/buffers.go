package pipeline

import (
	"math/bits"
	"sync"
)

// Buffers is a pool of byte buffers for the bytes a batch's events point into (decoded
// documents, filtered documents). A stage takes a buffer with Get, writes the events' bytes
// into it and hands it back with Batch.Recycle; the batch returns it to the pool when the
// last output acknowledged it, because only then does nothing read the events any more (the
// Output contract). Reusing the buffers instead of allocating one per batch keeps the
// indexer's allocation rate, and so the collector's work and the memory it lets grow
// between collections, low.
//
// Buffers come in sizes from 64 KiB to 64 MiB, four per power of two (64, 80, 96, 112,
// 128 KiB, ...), so a buffer is at most a quarter larger than asked for; a larger request is
// allocated and never pooled. The pool holds no buffer the collector cannot reclaim
// (sync.Pool), so it never pins memory an idle process no longer needs. A Buffers is safe
// for concurrent use; its zero value is ready, and a nil *Buffers allocates every buffer and
// pools none.
type Buffers struct {
	classes [bufClasses]sync.Pool
	events  sync.Pool // *[]Event, each of at least minPooledEvents
}

const (
	bufMinShift = 16       // the smallest buffer is 64 KiB
	bufClasses  = 10*4 + 1 // ten octaves of four sizes, and 64 MiB
)

// bufSize is the capacity of the buffers of class c.
func bufSize(c int) int { return (4 + c%4) << (bufMinShift - 2 + c/4) }

// bufClass returns the smallest class whose buffers hold n bytes, or -1 when n is too large.
func bufClass(n int) int {
	if n <= 1<<bufMinShift {
		return 0
	}
	// n-1 has its top bit at 2^top; the class's octave starts there and the two bits below
	// the top pick the quarter.
	top := bits.Len(uint(n-1)) - 1
	c := (top-bufMinShift)*4 + int((uint(n-1)>>(top-2))&3)
	if bufSize(c) < n {
		c++
	}
	if c >= bufClasses {
		return -1
	}
	return c
}

// Get returns an empty buffer with a capacity of at least n bytes. Its contents are
// undefined: write before reading.
func (p *Buffers) Get(n int) []byte {
	c := bufClass(n)
	if p == nil || c < 0 {
		return make([]byte, 0, n)
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, bufSize(c))
}

// put returns b to its class. Buffers whose capacity is not a class size (grown by append,
// or allocated elsewhere) are left to the collector.
func (p *Buffers) put(b []byte) {
	c := bufClass(cap(b))
	if c < 0 || cap(b) != bufSize(c) {
		return
	}
	b = b[:cap(b)]
	poison(b)
	p.classes[c].Put(&b)
}

// minPooledEvents is the smallest event slice the pool keeps: a full batch's (batch_events
// is 512 by default in the kafka input, 2048 in the file input). Smaller ones (a tailed
// file's few lines) are left to the collector.
const minPooledEvents = 256

// Events returns an empty event slice with a capacity of at least n, every element up to
// its capacity the zero Event: a pooled one when the pool holds one that large. Hand it to the batch with Batch.RecycleEvents. Like the byte
// buffers, it spares the collector an allocation per batch (512 events are 70 KB).
func (p *Buffers) Events(n int) []Event {
	if p != nil && n <= maxPooledEvents {
		if s, ok := p.events.Get().(*[]Event); ok {
			if cap(*s) >= n {
				if poisonsEvents {
					clear((*s)[:cap(*s)])
				}
				return (*s)[:0]
			}
			p.events.Put(s) // too small for this one; another may use it
		}
	}
	return make([]Event, 0, max(n, 0))
}

// maxPooledEvents bounds the slices the pool hands out and keeps (a batch_events far above
// the default is allocated per batch).
const maxPooledEvents = 1 << 16

// putEvents clears s (no event stays reachable through the pool) and keeps it.
func (p *Buffers) putEvents(s []Event) {
	if p == nil || cap(s) < minPooledEvents || cap(s) > maxPooledEvents {
		return
	}
	s = s[:cap(s)]
	poisonEvents(s)
	p.events.Put(&s)
}
