package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/e2e/harness"
)

// Both roles against the protocol versions of the clusters in the field: a Kafka 4.0
// broker, which refuses the versions KIP-896 removed (and closes the connection on them),
// a current broker refusing them too, and the versions a Kafka 2.8 cluster offers. ship
// writes lines through a consumer-less producer path (metadata, describe configs,
// produce); index consumes them as a group member (find coordinator, join, sync,
// heartbeat, offset fetch, list offsets, fetch, commit, leave) into the Elasticsearch
// test server. Every line must be stored once, and the broker must not have refused a
// single request.
func TestBothRolesAgainstClusterVersions(t *testing.T) {
	harness.SkipIfShort(t)
	for _, v := range []struct {
		name string
		args []string
	}{
		{"kafka-4.0-kip896", []string{"-as-version", "4.0"}},
		{"latest-kip896", []string{"-kip896", "on"}},
		{"kafka-2.8", []string{"-as-version", "2.8"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"-listen", "127.0.0.1:0", "-topic", topic + ":3"}, v.args...)
			broker := harness.Start(t, "kfakebroker", harness.BrokerBin(t), args...)
			var addr string
			harness.WaitFor(t, 20*time.Second, "the broker's ready line", func() bool {
				for _, l := range strings.Split(broker.Log(), "\n") {
					if a, ok := strings.CutPrefix(l, "ready "); ok {
						addr = strings.Split(strings.TrimSpace(a), ",")[0]
						return true
					}
				}
				return false
			})

			lines := harness.Lines("versions", 0, 3000)
			harness.WriteFile(t, filepath.Join(dir, "logs", "access.log"), harness.Text(lines))
			shipCfg := harness.WriteConfig(t, dir, "ship.hcl", harness.ShipConfig(dir, addr, topic, ""))
			ship := harness.StartLogpipe(t, "ship", "-c", shipCfg)
			harness.WaitForLines(t, addr, topic, lines, 60*time.Second)
			ship.Terminate(t, 30*time.Second)

			es := estest.New(estest.Options{})
			if err := es.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(es.Close)
			indexCfg := harness.WriteConfig(t, dir, "index.hcl", fmt.Sprintf(`data_dir = %q
input "kafka" "main" {
  brokers         = [%q]
  topics          = [%q]
  group_id        = "versions"
  commit_interval = "200ms"
}
output "elasticsearch" "main" {
  hosts          = [%q]
  index          = "filebeat_test-%%{+YYYY.MM.dd}"
  flush_interval = "50ms"
}
`, filepath.Join(dir, "index"), addr, topic, es.URL()))
			index := harness.StartLogpipe(t, "index", "-c", indexCfg, "--once")
			if code := index.Wait(t, 120*time.Second); code != 0 {
				t.Fatalf("logpipe index --once exited %d", code)
			}
			seen := map[string]int{}
			for _, d := range es.Documents() {
				var doc struct {
					Message string `json:"message"`
				}
				if err := json.Unmarshal(d.Source, &doc); err != nil {
					t.Fatalf("document %s is not JSON: %v", d.ID, err)
				}
				seen[doc.Message]++
			}
			missing, dup := 0, 0
			for _, l := range lines {
				switch seen[l] {
				case 0:
					missing++
				case 1:
				default:
					dup++
				}
			}
			if missing+dup > 0 || len(seen) != len(lines) {
				t.Fatalf("%d lines: %d missing, %d stored more than once, %d distinct documents", len(lines), missing, dup, len(seen))
			}
			if log := broker.Log(); strings.Contains(log, "refused ") {
				t.Fatalf("the broker refused requests:\n%s", log)
			}
			broker.Signal(t, os.Interrupt)
		})
	}
}
