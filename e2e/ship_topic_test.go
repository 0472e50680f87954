package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// The topic does not exist: logpipe says so, naming the topic and what to do, keeps running
// with the input stalled, and ships every line once the topic is created.
func TestShipMissingTopic(t *testing.T) {
	t.Parallel()
	harness.SkipIfShort(t)
	dir := t.TempDir()
	b := harness.StartBroker(t, harness.BrokerOptions{})
	cfg := harness.WriteConfig(t, dir, "ship.hcl", harness.ShipConfig(dir, b.Addr(), topic, ""))
	lines := harness.Lines("waiting", 0, 200)
	log := filepath.Join(dir, "logs", "access.log")
	harness.WriteFile(t, log, harness.Text(lines))
	p := harness.StartLogpipe(t, "ship", "-c", cfg)
	p.WaitForLog(t, `topic \"kafka_test\" is not on the Kafka cluster`, 30*time.Second)
	p.WaitForLog(t, "kafka-topics.sh --create --topic kafka_test", time.Second)
	if p.Exited() {
		t.Fatalf("logpipe exited (code %d) instead of waiting for the topic", p.ExitCode())
	}
	if off := (&shipEnv{t: t, dir: dir}).registryOffset(log); off != 0 {
		t.Fatalf("registry committed %s up to %d without a topic", log, off)
	}
	// The operator creates the topic (the broker restarts with it).
	b.Kill(t)
	b.AddTopics(topic + ":3")
	b.Restart(t)
	evs := harness.WaitForLines(t, b.Addr(), topic, lines, 60*time.Second)
	p.Terminate(t, 30*time.Second)
	harness.RequireAllOnce(t, lines, evs)
}
