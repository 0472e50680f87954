package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// qBatch returns a batch of n events whose messages are size bytes each.
func qBatch(n, size int) *Batch {
	events := make([]Event, n)
	for i := range events {
		events[i].Message = make([]byte, size)
	}
	return NewBatch("q", events, nil)
}

func TestQueueBounds(t *testing.T) {
	defer goleak.VerifyNone(t)
	bg := context.Background()
	size := qBatch(1, 100).Bytes() // 228

	t.Run("events", func(t *testing.T) {
		q := NewQueue(10, 1<<20)
		for i := 0; i < 3; i++ {
			if err := q.Put(bg, qBatch(3, 1)); err != nil {
				t.Fatal(err)
			}
		}
		// 9 events queued: a batch of 2 would exceed 10.
		ctx, cancel := context.WithCancel(bg)
		cancel()
		if err := q.Put(ctx, qBatch(2, 1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put over the event bound = %v, want context.Canceled", err)
		}
		if err := q.Put(bg, qBatch(1, 1)); err != nil {
			t.Fatalf("Put up to the bound = %v", err)
		}
		if f := q.Fill(); f.Events != 10 || f.Batches != 4 || f.MaxEvents != 10 {
			t.Fatalf("fill %+v", f)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		q := NewQueue(1000, 3*size)
		for i := 0; i < 3; i++ {
			if err := q.Put(bg, qBatch(1, 100)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tryPutCancelled(q, qBatch(1, 0)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put over the byte bound = %v", err)
		}
		if f := q.Fill(); f.Bytes != int64(3*size) || f.Events != 3 {
			t.Fatalf("fill %+v", f)
		}
		q.Get()
		if err := q.Put(bg, qBatch(1, 100)); err != nil {
			t.Fatalf("Put after Get freed space = %v", err)
		}
	})
	t.Run("oversized batch admitted alone", func(t *testing.T) {
		q := NewQueue(4, 1000)
		big := qBatch(10, 500)
		if err := q.Put(bg, big); err != nil {
			t.Fatalf("Put of an oversized batch into an empty queue = %v", err)
		}
		if err := tryPutCancelled(q, qBatch(1, 0)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put next to an oversized batch = %v", err)
		}
		if b, _ := q.Get(); b != big {
			t.Fatal("wrong batch")
		}
		if f := q.Fill(); f.Events != 0 || f.Bytes != 0 || f.Batches != 0 {
			t.Fatalf("fill after draining: %+v", f)
		}
	})
	t.Run("empty batches count as one event", func(t *testing.T) {
		q := NewQueue(2, 1<<20)
		for i := 0; i < 2; i++ {
			if err := q.Put(bg, NewBatch("e", nil, nil)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tryPutCancelled(q, NewBatch("e", nil, nil)); !errors.Is(err, context.Canceled) {
			t.Fatalf("third empty batch = %v, want refused", err)
		}
	})
}

// tryPutCancelled calls Put with a context that is already cancelled.
func tryPutCancelled(q *Queue, b *Batch) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return q.Put(ctx, b)
}

func TestQueueOrderAndClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	q := NewQueue(100, 1<<20)
	var want []*Batch
	for i := 0; i < 40; i++ { // more than the initial ring, so it grows while wrapped
		b := qBatch(1, 1)
		want = append(want, b)
		if err := q.Put(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if got, _ := q.Get(); got != want[0] {
				t.Fatalf("Get returned batches out of order at %d", i)
			}
			want = want[1:]
		}
	}
	q.Close()
	q.Close() // idempotent
	if err := q.Put(context.Background(), qBatch(1, 1)); !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("Put after Close = %v", err)
	}
	for i, w := range want {
		got, ok := q.Get()
		if !ok || got != w {
			t.Fatalf("after Close, Get %d = %v, %v", i, got, ok)
		}
	}
	if b, ok := q.Get(); ok || b != nil {
		t.Fatal("Get on a closed, empty queue returned a batch")
	}
}

// TestQueueBlocking: a blocked Put is released by Get, by its context, and by Close; a
// blocked Get is released by Put and by Close.
func TestQueueBlocking(t *testing.T) {
	defer goleak.VerifyNone(t)
	q := NewQueue(1, 1<<20)
	if err := q.Put(context.Background(), qBatch(1, 1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 3)
	go func() { res <- q.Put(ctx, qBatch(1, 1)) }()
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Put after cancel = %v", err)
	}

	go func() { res <- q.Put(context.Background(), qBatch(1, 1)) }()
	waitFor(t, "Put to wait", func() bool { return queueWaiting(q) })
	q.Get()
	if err := <-res; err != nil {
		t.Fatalf("Put released by Get = %v", err)
	}

	go func() { res <- q.Put(context.Background(), qBatch(1, 1)) }()
	waitFor(t, "Put to wait", func() bool { return queueWaiting(q) })
	q.Close()
	if err := <-res; !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("Put released by Close = %v", err)
	}

	q2 := NewQueue(1, 1<<20)
	got := make(chan bool, 1)
	go func() { _, ok := q2.Get(); got <- ok }()
	if err := q2.Put(context.Background(), qBatch(1, 1)); err != nil {
		t.Fatal(err)
	}
	if !<-got {
		t.Fatal("Get released by Put returned nothing")
	}
	go func() { _, ok := q2.Get(); got <- ok }()
	q2.Close()
	if <-got {
		t.Fatal("Get released by Close returned a batch")
	}
}

// queueWaiting reports whether a Put is blocked waiting for space.
func queueWaiting(q *Queue) bool { return q.Fill().BlockedPuts == 1 }

// TestQueueConcurrent: many producers and consumers; every batch comes out once and the
// bounds hold throughout (checked by the consumers under -race).
func TestQueueConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	const producers, perProducer = 4, 2000
	q := NewQueue(16, 16*qBatch(1, 10).Bytes())
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Go(func() {
			for i := 0; i < perProducer; i++ {
				if err := q.Put(context.Background(), qBatch(1+i%3, 10)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var got sync.Map
	var consumers sync.WaitGroup
	var n, over int64
	var mu sync.Mutex
	for c := 0; c < 3; c++ {
		consumers.Go(func() {
			for {
				b, ok := q.Get()
				if !ok {
					return
				}
				if _, dup := got.LoadOrStore(b, true); dup {
					t.Error("batch delivered twice")
				}
				f := q.Fill()
				mu.Lock()
				n++
				if f.Events > 16 || f.Bytes > int64(16*qBatch(1, 10).Bytes()) {
					over++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	q.Close()
	consumers.Wait()
	if n != producers*perProducer || over != 0 {
		t.Fatalf("got %d batches (want %d), bounds exceeded %d times", n, producers*perProducer, over)
	}
}

func BenchmarkQueuePutGet(b *testing.B) {
	q := NewQueue(4096, 16<<20)
	batch := qBatch(64, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, ok := q.Get(); !ok {
				return
			}
		}
	}()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := q.Put(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	q.Close()
	<-done
}
