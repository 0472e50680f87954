package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/logpipe/logpipe/e2e/harness"
)

// Records without @metadata._id (what stock Filebeat and Logstash write) are indexed, the
// topic is deleted and created again (which drops the group's offsets, as Kafka does), and
// different records are written at the same offsets: the second run stores every one of
// them. A fallback id derived only from topic, partition and offset would make
// Elasticsearch answer 409 for each of them, counted as a duplicate and lost.
func TestIndexTopicRecreatedRecordsWithoutID(t *testing.T) {
	e := newIndexEnv(t, "", "", "")
	base := time.Now()
	first := eventsWithoutID(0, 600, base)
	e.produceAll(byPartition(first))
	if code := e.index("--once").Wait(t, 90*time.Second); code != 0 {
		t.Fatalf("first logpipe index --once exited %d", code)
	}
	e.requireExactlyOnce(first, nil)

	recreateTopic(t, e.broker.Addr(), topic, indexPartitions)
	second := eventsWithoutID(10000, 600, base)
	e.produceAll(byPartition(second))
	p := e.index("--once")
	if code := p.Wait(t, 90*time.Second); code != 0 {
		t.Fatalf("second logpipe index --once exited %d:\n%s", code, p.Log())
	}
	e.requireExactlyOnce(append(first, second...), nil)

	// A redelivery of the same records still collapses: run again from the start.
	resetGroup(t, e.broker.Addr())
	if code := e.index("--once").Wait(t, 90*time.Second); code != 0 {
		t.Fatalf("third logpipe index --once exited %d", code)
	}
	e.requireExactlyOnce(append(first, second...), nil)
}

// eventsWithoutID returns n events numbered from first, without @metadata._id.
func eventsWithoutID(first, n int, base time.Time) []testEvent {
	evs := make([]testEvent, n)
	for k := range evs {
		i := first + k
		ts := base.Add(-time.Duration(k) * time.Second).UTC().Truncate(time.Millisecond)
		evs[k] = testEvent{n: i, ts: ts, value: fmt.Appendf(nil,
			`{"@timestamp":%q,"message":"record %d without an id","n":%d}`, ts.Format("2006-01-02T15:04:05.000Z"), i, i)}
	}
	return evs
}

// recreateTopic deletes topic and creates it again with the given partitions, with
// kafka-go's admin requests (as an operator's tool would), and waits until it is usable.
func recreateTopic(t *testing.T, addr, name string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	dres, err := c.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{name}})
	if err != nil {
		t.Fatalf("delete topic %s: %v", name, err)
	}
	if err := dres.Errors[name]; err != nil {
		t.Fatalf("delete topic %s: %v", name, err)
	}
	harness.WaitFor(t, 20*time.Second, "the topic to be created again", func() bool {
		cres, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: name, NumPartitions: partitions, ReplicationFactor: 1}}})
		if err != nil {
			return false
		}
		if err := cres.Errors[name]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return false
		}
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{name}})
		return err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) == partitions
	})
}

// resetGroup moves the index group's committed offsets back to 0 on every partition.
func resetGroup(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	var commits []kafka.OffsetCommit
	for p := range indexPartitions {
		commits = append(commits, kafka.OffsetCommit{Partition: p, Offset: 0})
	}
	res, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: indexGroup, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{topic: commits}})
	if err != nil {
		t.Fatalf("reset group offsets: %v", err)
	}
	for _, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				t.Fatalf("reset group offsets of partition %d: %v", p.Partition, p.Error)
			}
		}
	}
}
