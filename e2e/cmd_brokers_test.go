package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// A broker list passed through the environment as one comma-joined string
// (brokers = [env("KAFKA_BROKERS")] with KAFKA_BROKERS=h1:9092,h2:9092, the usual way) works
// in both roles: ship writes every line, index reads every one back. Before the fix it
// passed validate and then panicked inside kafka-go (index out of range) in both roles.
func TestCommaJoinedBrokersBothRoles(t *testing.T) {
	harness.SkipIfShort(t)
	b := harness.StartBroker(t, harness.BrokerOptions{Topics: []string{"kafka_test:2"}, Brokers: 2})
	dir := t.TempDir()
	t.Setenv("KAFKA_BROKERS", strings.Join(b.Addrs(), ","))

	lines := harness.Lines("comma", 0, 500)
	harness.WriteFile(t, filepath.Join(dir, "logs", "access.log"), harness.Text(lines))
	ship := harness.WriteConfig(t, dir, "ship.hcl", fmt.Sprintf(`data_dir = %q
input "file" "access" {
  paths          = [%q]
  start_position = "beginning"
}
output "kafka" "main" {
  brokers = [env("KAFKA_BROKERS")]
  topic   = "kafka_test"
}
`, filepath.Join(dir, "ship-data"), filepath.Join(dir, "logs", "*.log")))
	out := filepath.Join(dir, "indexed.ndjson")
	index := harness.WriteConfig(t, dir, "index.hcl", fmt.Sprintf(`data_dir = %q
input "kafka" "main" {
  brokers  = [env("KAFKA_BROKERS")]
  topics   = ["kafka_test"]
  group_id = "test123"
}
output "file" "out" {
  path = %q
}
`, filepath.Join(dir, "index-data"), out))

	for _, cfg := range []string{ship, index} {
		code, log := harness.RunLogpipe(t, 30*time.Second, "validate", "-c", cfg)
		if code != 0 {
			t.Fatalf("validate %s: exit %d\n%s", cfg, code, log)
		}
	}
	code, log := harness.RunLogpipe(t, 90*time.Second, "ship", "-c", ship, "--once")
	if code != 0 || strings.Contains(log, "panic") {
		t.Fatalf("ship --once: exit %d\n%s", code, log)
	}
	harness.RequireAllOnce(t, lines, harness.ReadEvents(t, b.Addr(), "kafka_test"))

	code, log = harness.RunLogpipe(t, 90*time.Second, "index", "-c", index, "--once")
	if code != 0 || strings.Contains(log, "panic") {
		t.Fatalf("index --once: exit %d\n%s", code, log)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		for _, want := range lines {
			if strings.Contains(l, `"message":"`+want+`"`) {
				got[want]++
				break
			}
		}
	}
	for _, l := range lines {
		if got[l] != 1 {
			t.Fatalf("line %q indexed %d times, want once", l, got[l])
		}
	}
}
