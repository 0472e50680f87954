package kafka

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

// Sixteen partitions with a backlog, the pipeline blocked (emit does not return): the data
// fetched but not emitted stays within fetch_budget, whatever the number of partitions,
// instead of one fetch per partition. When the pipeline moves again, every record arrives.
func TestFetchBudgetBoundsBufferedBytes(t *testing.T) {
	const parts, per = 16, 300
	c := newCluster(t, map[string]int32{"logs": parts})
	pr := producer(t, c)
	pad := strings.Repeat("x", 1000)
	for p := int32(0); p < parts; p++ {
		vals := make([]string, per)
		for i := range vals {
			vals[i] = fmt.Sprintf(`{"message":"p%d r%d %s"}`, p, i, pad)
		}
		produce(t, pr, "logs", p, vals...)
	}
	cfg := testConfig(t, c, "budget", "logs")
	cfg.FetchBudget = "1MiB"
	cfg.BatchEvents = 64
	in := newInput(t, cfg, false)

	gate := make(chan struct{})
	var blocked atomic.Int64
	col := newCollector(nil)
	emit := func(ctx context.Context, b *pipeline.Batch) error {
		blocked.Add(1)
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		return col.emit(ctx, b)
	}
	r := start(in, emit)
	waitFor(t, "partitions blocked in emit", 10*time.Second, func() bool { return blocked.Load() >= 2 })
	peak := int64(0)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		peak = max(peak, in.budget.inUse())
	}
	limit := in.budget.limit
	t.Logf("fetch budget %d bytes: peak in use %d bytes with %d partitions blocked", limit, peak, blocked.Load())
	if peak > limit+minReserve {
		t.Errorf("fetched-but-not-emitted data peaked at %d bytes, above fetch_budget %d", peak, limit)
	}
	if n := blocked.Load(); n >= parts {
		t.Errorf("%d partitions hold a fetch while the pipeline is blocked; the budget admits fewer", n)
	}
	close(gate)
	waitFor(t, "every record", 20*time.Second, func() bool { return col.count() == parts*per })
	r.stop(t)
	if u := in.budget.inUse(); u != 0 {
		t.Errorf("%d bytes still counted in the budget after the input stopped", u)
	}
}

func TestByteBudgetWaitsAndWakes(t *testing.T) {
	const k = 1 << 10
	b := newByteBudget(1024 * k)
	ctx := context.Background()
	if n := b.reservation(-1); n != 1024*k {
		t.Fatalf("first reservation %d, want the whole budget (the first fetch runs alone)", n)
	}
	b.firstDone.Store(true) // the first fetch found nothing (an idle topic)
	if n := b.reservation(-1); n != 64*k {
		t.Fatalf("reservation without history after an empty first fetch %d, want a sixteenth of the budget", n)
	}
	b.seen(1200 * k)
	if n := b.reservation(-1); n != 1024*k {
		t.Fatalf("reservation without history %d, want the largest fetch seen, capped at the budget", n)
	}
	b.maxSeen.Store(400 * k)
	if n := b.reservation(-1); n != 400*k {
		t.Fatalf("reservation without history %d, want the largest fetch seen (400k)", n)
	}
	if n := b.reservation(10); n != minReserve {
		t.Fatalf("reservation after a tiny fetch %d, want the minimum %d", n, minReserve)
	}
	n1, ok := b.acquire(ctx, 800*k) // 1000k
	if !ok || n1 != 1000*k {
		t.Fatalf("acquire = %d, %v; want 1000k", n1, ok)
	}
	got := make(chan int64, 1)
	go func() { n, _ := b.acquire(ctx, 100*k); got <- n }() // 125k: does not fit
	waitFor(t, "the second reservation queued", 10*time.Second, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queue) == 1
	})
	select {
	case <-got:
		t.Fatal("acquire did not wait while the budget was spent")
	default:
	}
	b.adjust(n1, 300*k) // the fetch held less than reserved: 700k come back
	if n := <-got; n != 125*k {
		t.Fatalf("granted %d, want 125k", n)
	}
	if u := b.inUse(); u != 425*k {
		t.Fatalf("in use %d, want 425k", u)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, ok := b.acquire(cctx, 900*k); ok {
		t.Fatal("acquire succeeded with a cancelled context while the budget was spent")
	}
	b.release(425 * k)
	if u := b.inUse(); u != 0 {
		t.Fatalf("in use %d after releasing everything, want 0", u)
	}
}

// The fetch buffer pool keeps as many idle buffers as the budget lets fetches run at once
// (at least four), and keeps them across collections, emptied.
func TestFetchBufsKeepIdle(t *testing.T) {
	if got := idleFetchBufs(4 << 20); got != 4 {
		t.Errorf("idle buffers for the default budget: %d, want 4", got)
	}
	if got := idleFetchBufs(64 << 20); got != 64 {
		t.Errorf("idle buffers for a 64 MiB budget: %d, want 64", got)
	}
	f := fetchBufs{maxIdle: 2}
	var bs []*fetchBuf
	for range 3 {
		b := f.get()
		b.dec = append(b.dec, "decoded"...)
		b.recs = append(b.recs, record{Offset: 7})
		bs = append(bs, b)
	}
	for _, b := range bs {
		f.put(b)
	}
	if len(f.idle) != 2 {
		t.Fatalf("%d idle buffers kept, want 2", len(f.idle))
	}
	runtime.GC()
	runtime.GC()
	for range 2 {
		b := f.get()
		if b != bs[0] && b != bs[1] {
			t.Fatal("an idle buffer was not kept across collections")
		}
		if len(b.dec) != 0 || len(b.recs) != 0 || cap(b.dec) == 0 {
			t.Fatalf("reused buffer not emptied (dec %d, recs %d) or not kept (cap %d)", len(b.dec), len(b.recs), cap(b.dec))
		}
	}
}
