package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/e2e/harness"
)

// `logpipe index` started before its topic exists waits for it, saying so once (naming the
// topic and `logpipe setup --topic`), instead of exiting 1 into a restart loop, and
// indexes the topic's records once an operator created it.
func TestIndexWaitsForMissingTopic(t *testing.T) {
	harness.SkipIfShort(t)
	dir := t.TempDir()
	broker := harness.StartBroker(t, harness.BrokerOptions{NoDataDir: true})
	es := estest.New(estest.Options{})
	if err := es.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(es.Close)
	cfg := harness.WriteConfig(t, dir, "index.hcl", fmt.Sprintf(`data_dir = %q
input "kafka" "main" {
  brokers  = [%q]
  topics   = [%q]
  group_id = "waits"
}
output "elasticsearch" "main" {
  hosts          = [%q]
  index          = "filebeat_test-%%{+YYYY.MM.dd}"
  flush_interval = "50ms"
}
`, filepath.Join(dir, "data"), broker.Addr(), topic, es.URL()))
	p := harness.StartLogpipe(t, "index", "-c", cfg)
	p.WaitForLog(t, "a kafka topic to consume does not exist; waiting for it", 30*time.Second)
	p.WaitForLog(t, "logpipe setup --topic", time.Second)
	time.Sleep(2 * time.Second) // long enough for a restart loop to show: the process must still run
	if p.Exited() {
		t.Fatalf("logpipe index exited (code %d) instead of waiting for the topic", p.ExitCode())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(broker.Addr()), Timeout: 10 * time.Second}
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}}})
	if err != nil || res.Errors[topic] != nil {
		t.Fatalf("create topic: %v %v", err, res.Errors)
	}
	events := eventsWithoutID(0, 300, time.Now())
	e := &indexEnv{t: t, broker: broker, es: es}
	e.produceAll(byPartition(events))
	harness.WaitFor(t, 60*time.Second, "every event indexed", func() bool { return len(es.Documents()) >= len(events) })
	e.requireExactlyOnce(events, nil)
	p.WaitForLog(t, "the kafka topics to consume exist now", time.Second)
	p.Terminate(t, 30*time.Second)
}
