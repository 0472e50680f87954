package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// A topic whose max.message.bytes is below the output's max_message_bytes: the broker
// rejects the record batch. Today the output logs a clear error and retries; the batch is
// never acknowledged (so nothing is lost), but it retries until the configuration is fixed.
// This pins the current behaviour for the fault table of the README (see the gap noted
// there: the batch is not split nor the event cut to the broker's limit).
func TestBrokerRejectsTooLargeRecordBatch(t *testing.T) {
	c := newCluster(t)
	if err := c.CreateTopic("small", 1, map[string]string{"max.message.bytes": "5000"}); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	o := newOutput(t, c, "small", zap.New(core), func(cfg *Config) {
		cfg.MaxMessageBytes = "64KiB"
		cfg.Compression = "none"
	})
	bs, acked := makeBatches(1, 1)
	bs[0].Events[0].Message = []byte(strings.Repeat("x", 20000))
	if err := o.Write(context.Background(), bs[0]); err != nil {
		t.Fatal(err)
	}
	closeCtx, cancel := context.WithCancel(context.Background())
	closed := make(chan error, 1)
	go func() { closed <- o.Close(closeCtx) }()
	var last string
	waitFor(t, 20*time.Second, "two rejected attempts", func() bool {
		n := 0
		for _, e := range logs.FilterMessageSnippet("produce failed").All() {
			n++
			last = fmt.Sprint(e.ContextMap()["error"])
		}
		return n >= 2
	})
	cancel()
	<-closed
	if !strings.Contains(last, "too large") || !strings.Contains(last, "max_message_bytes") {
		t.Errorf("logged error %q does not explain the size limit", last)
	}
	if acked.Load() != 0 {
		t.Fatal("a rejected batch was acknowledged")
	}
}
