package kafka

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// smallTopic creates topic "small" with max.message.bytes 5000, refuses every
// DescribeConfigs request while refuse returns true (answering TOPIC_AUTHORIZATION_FAILED,
// as a cluster with ACLs does), and counts the produce requests Kafka answered with
// MESSAGE_TOO_LARGE.
func smallTopic(t *testing.T, refuse func() bool) (*kfake.Cluster, *atomic.Int64) {
	t.Helper()
	c := newCluster(t)
	if err := c.CreateTopic("small", 1, map[string]string{"max.message.bytes": "5000"}); err != nil {
		t.Fatal(err)
	}
	c.ControlKey(int16(kmsg.DescribeConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refuse() {
			return nil, nil, false
		}
		r := req.(*kmsg.DescribeConfigsRequest)
		resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
		for _, rr := range r.Resources {
			res := kmsg.NewDescribeConfigsResponseResource()
			res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
			res.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Resources = append(resp.Resources, res)
		}
		return resp, nil, true
	})
	var tooLarge atomic.Int64
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Observe: true, Count: -1, When: func(req kmsg.Request) bool {
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range tp.Partitions {
				if len(p.Records) > 5000 {
					tooLarge.Add(1)
				}
			}
		}
		return true
	}})
	return c, &tooLarge
}

// An ACL forbids reading the topic's max.message.bytes (5000, below max_message_bytes):
// Kafka answers the 20 kB event with MESSAGE_TOO_LARGE, the output learns from the answer,
// cuts the event to what the topic accepts, flags it, and the batch is acknowledged. Before,
// the record was retried forever and its file's registry stopped.
func TestTooLargeAnswerTeachesTheLimit(t *testing.T) {
	c, _ := smallTopic(t, func() bool { return true })
	core, logs := observer.New(zapcore.InfoLevel)
	o := newOutput(t, c, "small", zap.New(core), func(cfg *Config) {
		cfg.MaxMessageBytes = "64KiB"
		cfg.Compression = "none"
	})
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs, acked := makeBatches(2, 3)
	bs[0].Events[1].Message = []byte(strings.Repeat("x", 20000))
	bs[1].Events[0].Message = []byte(strings.Repeat("y", 20000))
	for _, b := range bs {
		if err := o.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "acks", func() bool { return acked.Load() == 2 })
	closeOutput(t, o)
	recs := consume(t, c, "small", 6)
	for _, i := range []int{1, 3} {
		if v := recs[i].Value; len(v) > 5000 || !strings.HasSuffix(string(v), "|T") {
			t.Errorf("record %d of %d bytes, want it cut below 5000 and flagged", i, len(v))
		}
	}
	if n := logs.FilterMessageSnippet("too large for the topic").Len(); n == 0 {
		t.Errorf("the lowered limit was not logged")
	}
}

// The cluster could not tell the topic's limit at start (the DescribeConfigs request
// failed): the output asks again once the cluster answers produce requests, and cuts the
// next large event before sending it (Kafka never refuses it).
func TestTopicLimitLearntWhenTheClusterAnswers(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	c, tooLarge := smallTopic(t, func() bool { return false })
	c.ControlKey(int16(kmsg.DescribeConfigs), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if fail.Load() {
			return nil, errors.New("closing the connection: the cluster is not ready"), true
		}
		return nil, nil, false
	})
	o := newOutput(t, c, "small", nil, func(cfg *Config) {
		cfg.MaxMessageBytes = "64KiB"
		cfg.Compression = "none"
	})
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := o.maxMsg.Load(); got != 64<<10 {
		t.Fatalf("max_message_bytes %d after a failed lookup, want 64KiB unchanged", got)
	}
	fail.Store(false)
	bs, acked := makeBatches(2, 3)
	if err := o.Write(context.Background(), bs[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the topic's limit to be learnt", func() bool { return o.maxMsg.Load() == 5000 })
	bs[1].Events[1].Message = []byte(strings.Repeat("x", 20000))
	if err := o.Write(context.Background(), bs[1]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "acks", func() bool { return acked.Load() == 2 })
	closeOutput(t, o)
	recs := consume(t, c, "small", 6)
	if v := recs[4].Value; len(v) > 5000 || !strings.HasSuffix(string(v), "|T") {
		t.Errorf("record of %d bytes, want it cut below 5000 and flagged", len(v))
	}
	if n := tooLarge.Load(); n != 0 {
		t.Errorf("%d produce requests above the topic's limit were sent", n)
	}
}
