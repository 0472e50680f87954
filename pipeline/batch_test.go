package pipeline

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestBatchAck(t *testing.T) {
	var calls atomic.Int32
	events := []Event{{Message: []byte("abc")}, {Doc: []byte(`{"a":1}`)}}
	b := NewBatch("f", events, func() { calls.Add(1) })
	if b.Len() != 2 || b.Bytes() != 2*eventOverhead+3+7 {
		t.Fatalf("len %d bytes %d", b.Len(), b.Bytes())
	}
	b.Retain(2) // three holders now
	b.Ack()
	b.Ack()
	if calls.Load() != 0 || b.Acked() {
		t.Fatal("onAck ran before the last holder acked")
	}
	b.Ack()
	if calls.Load() != 1 || !b.Acked() {
		t.Fatal("onAck did not run after the last ack")
	}
	b.Ack() // extra acks are ignored
	b.Ack()
	if calls.Load() != 1 {
		t.Fatalf("onAck ran %d times", calls.Load())
	}
	nb := NewBatch("nil", nil, nil) // nil onAck
	nb.Ack()
	if !nb.Acked() {
		t.Fatal("batch with nil onAck")
	}
}

// TestBatchAckConcurrent: outputs acknowledge from their own goroutines, including extra
// acks; onAck runs exactly once.
func TestBatchAckConcurrent(t *testing.T) {
	for round := 0; round < 200; round++ {
		var calls atomic.Int32
		b := NewBatch("f", nil, func() { calls.Add(1) })
		const holders = 8
		b.Retain(holders - 1)
		var wg sync.WaitGroup
		for i := 0; i < holders; i++ {
			wg.Go(func() { b.Ack(); b.Ack() })
		}
		wg.Wait()
		if calls.Load() != 1 {
			t.Fatalf("round %d: onAck ran %d times", round, calls.Load())
		}
	}
}
