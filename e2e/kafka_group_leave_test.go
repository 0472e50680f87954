package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/estest"
	"github.com/logpipe/logpipe/e2e/harness"
	"github.com/segmentio/kafka-go"
)

// leaveGroup is the consumer group of the leave tests.
const leaveGroup = "leave"

// A member that is stopped with SIGTERM while it is rejoining the group (its JoinGroup held by
// the coordinator because another member has not rejoined yet) still leaves the group, so
// the others get its partitions at once instead of after the coordinator gave up on it.
//
// kafka-go's ConsumerGroup.Close cannot interrupt a JoinGroup in flight: before the fix, Close
// waited for it until the drain deadline and the process exited without leaving. Its member
// stayed in the group, waiting in a JoinGroup on a dead connection: when the rebalance
// completed the coordinator counted it in, gave it partitions, and only dropped it after
// rebalance_timeout without a SyncGroup. Now Close sends LeaveGroup itself.
//
// The timeouts are long on purpose (5 minutes, kfake's maximum session timeout): a member
// that does not leave holds partitions for that long, far beyond the waits below, so the
// test tells "left" from "expired" without measuring time. The member that must not be
// expired while it is frozen with SIGSTOP needs the long session timeout too. No twin at the
// defaults: with them, "left" and "expired after 10 s" differ only by a duration.
func TestKafkaGroupLeaveWhileRejoining(t *testing.T) {
	harness.SkipIfShort(t)
	dir := t.TempDir()
	broker := harness.StartBroker(t, harness.BrokerOptions{Topics: []string{fmt.Sprintf("%s:%d", topic, indexPartitions)}})
	es := estest.New(estest.Options{})
	if err := es.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(es.Close)
	config := func(name string) string {
		return harness.WriteConfig(t, dir, name+".hcl", fmt.Sprintf(`data_dir      = %q
drain_timeout = "10s"
logging { level = "info" }
input "kafka" "main" {
  brokers           = [%q]
  topics            = [%q]
  group_id          = %q
  session_timeout   = "5m"
  rebalance_timeout = "5m"
}
output "elasticsearch" "main" {
  hosts = [%q]
  index = "filebeat_test-%%{+YYYY.MM.dd}"
}
`, filepath.Join(dir, name), broker.Addr(), topic, leaveGroup, es.URL()))
	}
	start := func(name string) *harness.Process {
		return harness.StartLogpipe(t, "index", "-c", config(name))
	}

	a := start("a")
	a.WaitForLog(t, "joined consumer group generation", 60*time.Second)
	b := start("b")
	harness.WaitFor(t, 60*time.Second, "a and b to share the partitions", func() bool {
		m := groupMembers(broker.Addr(), leaveGroup)
		return len(m) == 2 && len(m[0]) > 0 && len(m[1]) > 0
	})

	// Freeze b: it will not rejoin. c joining starts a rebalance; a rejoins and is held.
	b.Signal(t, syscall.SIGSTOP)
	thawed := false
	t.Cleanup(func() {
		if !thawed {
			_ = syscall.Kill(b.Pid(), syscall.SIGCONT)
		}
	})
	ended := strings.Count(a.Log(), "consumer group generation ended")
	c := start("c")
	harness.WaitFor(t, 60*time.Second, "a to end its generation and rejoin", func() bool {
		return strings.Count(a.Log(), "consumer group generation ended") > ended &&
			groupState(broker.Addr(), leaveGroup) == "PreparingRebalance"
	})

	// a is inside its JoinGroup: stop it, and let b go on only once a is gone.
	a.Signal(t, syscall.SIGTERM)
	code := a.Wait(t, 60*time.Second)
	b.Signal(t, syscall.SIGCONT)
	thawed = true

	// b and c own every partition: a left. Had a not left, the coordinator would give it
	// partitions it never takes, for rebalance_timeout (5 minutes).
	harness.WaitFor(t, 90*time.Second, "b and c to own every partition", func() bool {
		m := groupMembers(broker.Addr(), leaveGroup)
		return len(m) == 2 && len(m[0])+len(m[1]) == indexPartitions
	})
	if code != 0 {
		t.Errorf("a exited with code %d after SIGTERM, want 0", code)
	}
	b.Terminate(t, 60*time.Second)
	c.Terminate(t, 60*time.Second)
}

// groupMembers returns, per member of group, the partitions of topic assigned to it (nil
// when the group cannot be described).
func groupMembers(addr, group string) [][]int {
	res := describeGroup(addr, group)
	if res == nil {
		return nil
	}
	var out [][]int
	for _, m := range res.Members {
		var ps []int
		for _, tp := range m.MemberAssignments.Topics {
			if tp.Topic == topic {
				ps = append(ps, tp.Partitions...)
			}
		}
		out = append(out, ps)
	}
	return out
}

// groupState returns the state of group as the coordinator describes it ("Stable",
// "PreparingRebalance", ...), or "" when it cannot be described.
func groupState(addr, group string) string {
	if res := describeGroup(addr, group); res != nil {
		return res.GroupState
	}
	return ""
}

func describeGroup(addr, group string) *kafka.DescribeGroupsResponseGroup {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 5 * time.Second}
	res, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil || len(res.Groups) != 1 || res.Groups[0].Error != nil {
		return nil
	}
	return &res.Groups[0]
}
