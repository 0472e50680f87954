package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/logpipe/logpipe/e2e/internal/brokerproc"
	"github.com/segmentio/kafka-go"
)

// groupRuns is how often each membership case of groupJoin is measured.
const groupRuns = 3

// groupWait bounds every wait of groupJoin: a case that takes longer is reported as such.
const groupWait = 150 * time.Second

// groupTopic and groupPartitions are the topic the group consumes and its partition count.
const (
	groupTopic      = "group_test"
	groupPartitions = 6
)

// groupJoin measures consumer-group membership with real processes: three `logpipe index`
// members (the input's defaults, debug logging for the "committed offsets" lines) of one
// group on a kfake broker, a topic of groupPartitions partitions receiving a steady stream,
// the apache filter and a _bulk endpoint that answers at once. It prints one row per case,
// the median and range of groupRuns runs of the time until the member was assigned
// partitions and until its first commit:
//
//   - start of three: three members start together on an empty group (the slowest one);
//   - third joins two: a member starts while two run;
//   - kill -9, restarted at once: a member is killed with SIGKILL and started again (the
//     dead member holds the rebalance until session_timeout drops it);
//   - SIGTERM, takeover: a member is stopped with SIGTERM; from the signal until the other two
//     own every partition, and until they committed every partition it owned.
//
// It asserts nothing: a case that does not complete within groupWait prints "> groupWait".
func groupJoin(logpipe, brokerBin, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	runDir, err := os.MkdirTemp(dir, "group-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(runDir)
	addr, err := brokerproc.FreeAddr()
	if err != nil {
		return err
	}
	broker, err := brokerproc.Start(ctx, brokerBin, addr, os.Stderr, fmt.Sprintf("%s:%d", groupTopic, groupPartitions))
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	defer broker.Stop()
	sink := &bulkSink{}
	srv, sinkURL, err := sink.start()
	if err != nil {
		return err
	}
	defer srv.Close()

	pctx, stopProducing := context.WithCancel(ctx)
	produced := make(chan error, 1)
	go func() { produced <- produceSteadily(pctx, addr) }()
	defer func() {
		stopProducing()
		<-produced
	}()

	configs := make([]string, 3)
	for i := range configs {
		if configs[i], err = writeIndexConfig(runDir, fmt.Sprintf("member%d", i+1), addr, sinkURL, groupTopic, "bench-group", "debug", "30s", ""); err != nil {
			return err
		}
	}
	g := &benchGroup{logpipe: logpipe, configs: configs, members: make([]*member, 3)}
	defer g.stopAll()

	rows := []struct {
		name    string
		measure func() (groupSample, error)
	}{
		{"start of three (the last of them)", g.startThree},
		{"third joins two", g.thirdJoins},
		{"kill -9 of one, restarted at once", g.killRestart},
		{"SIGTERM of one: the others take over", g.termTakeover},
	}
	fmt.Printf("\nconsumer group membership: 3 × `logpipe index` (input defaults), %d partitions, steady input; median [min–max] of %d runs\n", groupPartitions, groupRuns)
	fmt.Printf("%-40s %-22s %s\n", "case (from the start or the signal)", "to assigned", "to first commit")
	for _, row := range rows {
		var as, cs []time.Duration
		timedOut := false
		for range groupRuns {
			d, err := row.measure()
			if errors.Is(err, errGroupWait) {
				timedOut = true
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", row.name, err)
			}
			as, cs = append(as, d.assigned), append(cs, d.committed)
		}
		if timedOut {
			fmt.Printf("%-40s > %s\n", row.name, groupWait)
			// The group may be stuck: start the next case from a fresh group.
			g.stopAll()
			continue
		}
		fmt.Printf("%-40s %-22s %s\n", row.name, spread(as), spread(cs))
	}
	return nil
}

// groupSample is one measure of a case: the time until the member (or, for a takeover,
// the others) was assigned the partitions, and until it committed them.
type groupSample struct{ assigned, committed time.Duration }

// spread formats the median and the range of ds.
func spread(ds []time.Duration) string {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return fmt.Sprintf("%.1f s [%.1f–%.1f]", ds[len(ds)/2].Seconds(), ds[0].Seconds(), ds[len(ds)-1].Seconds())
}

var errGroupWait = errors.New("group case did not complete in time")

// produceSteadily writes a few hundred JSON records carrying Apache lines every 50 ms until
// ctx ends, so that every partition always has something to commit.
func produceSteadily(ctx context.Context, addr string) error {
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: groupTopic, Balancer: &kafka.RoundRobin{},
		BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireOne}
	defer w.Close()
	msgs := make([]kafka.Message, 120)
	for i := range msgs {
		line := fmt.Sprintf(`10.0.%d.%d - - [05/Dec/2026:07:00:00 +0000] "GET /item/%d HTTP/1.1" 200 %d "http://example.com/" "Mozilla/5.0"`, i/250, i%250, i, 500+i)
		v, _ := json.Marshal(map[string]string{"message": line})
		msgs[i] = kafka.Message{Value: v}
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if err := w.WriteMessages(ctx, msgs...); err != nil && ctx.Err() == nil {
			return fmt.Errorf("producing: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// benchGroup is the three members of groupJoin; members[i] is nil while member i is stopped.
type benchGroup struct {
	logpipe string
	configs []string
	members []*member
}

// member is one running `logpipe index` process and what its log said about the group.
type member struct {
	cmd     *exec.Cmd
	start   time.Time
	done    chan struct{} // closed when the log ended (the process exited)
	mu      sync.Mutex
	parts   []int       // the partitions of its last generation
	joined  time.Time   // when it first joined a generation with partitions
	commits []commitLog // its "committed offsets" lines
}

type commitLog struct {
	at    time.Time
	parts []int
}

func (g *benchGroup) startMember(i int) error {
	cmd := exec.Command(g.logpipe, "index", "-c", g.configs[i])
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	m := &member{cmd: cmd, done: make(chan struct{})}
	m.start = time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		_ = cmd.Wait()
		w.Close()
	}()
	go m.read(r)
	g.members[i] = m
	return nil
}

// read follows the member's JSON log lines.
func (m *member) read(r io.Reader) {
	defer close(m.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		isJoin := bytes.Contains(line, []byte(`"msg":"joined consumer group generation"`))
		isCommit := bytes.Contains(line, []byte(`"msg":"committed offsets"`))
		if !isJoin && !isCommit {
			continue
		}
		var l struct {
			TS         time.Time                   `json:"ts"`
			Partitions []string                    `json:"partitions"`
			Offsets    map[string]map[string]int64 `json:"offsets"`
		}
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		m.mu.Lock()
		if isJoin {
			m.parts = m.parts[:0]
			for _, p := range l.Partitions {
				var n int
				if _, err := fmt.Sscanf(p[strings.LastIndexByte(p, '/')+1:], "%d", &n); err == nil {
					m.parts = append(m.parts, n)
				}
			}
			if m.joined.IsZero() && len(m.parts) > 0 {
				m.joined = l.TS
			}
		} else {
			c := commitLog{at: l.TS}
			for p := range l.Offsets[groupTopic] {
				var n int
				if _, err := fmt.Sscanf(p, "%d", &n); err == nil {
					c.parts = append(c.parts, n)
				}
			}
			m.commits = append(m.commits, c)
		}
		m.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

// firstCommit returns the time of the member's first commit, or false.
func (m *member) firstCommit() (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.commits) == 0 {
		return time.Time{}, false
	}
	return m.commits[0].at, true
}

// committedAfter reports whether the member committed partition p after t.
func (m *member) committedAfter(p int, t time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.commits {
		if c.at.After(t) {
			for _, q := range c.parts {
				if q == p {
					return true
				}
			}
		}
	}
	return false
}

// joinedAt returns when the member first joined a generation with partitions.
func (m *member) joinedAt() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.joined
}

func (m *member) partitions() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.parts...)
}

func (g *benchGroup) stop(i int, sig syscall.Signal) {
	m := g.members[i]
	if m == nil {
		return
	}
	_ = m.cmd.Process.Signal(sig)
	select {
	case <-m.done:
	case <-time.After(60 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	g.members[i] = nil
}

func (g *benchGroup) stopAll() {
	for i := range g.members {
		g.stop(i, syscall.SIGTERM)
	}
}

// waitGroup polls cond every 20 ms for up to groupWait.
func waitGroup(cond func() bool) error {
	deadline := time.Now().Add(groupWait)
	for !cond() {
		if time.Now().After(deadline) {
			return errGroupWait
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// ensureThree starts the stopped members and waits until the group is settled: every
// member committed since it joined its last generation, and all partitions are owned.
func (g *benchGroup) ensureThree() error {
	for i, m := range g.members {
		if m == nil {
			if err := g.startMember(i); err != nil {
				return err
			}
		}
	}
	return waitGroup(func() bool {
		owned := 0
		for _, m := range g.members {
			ps := m.partitions()
			if _, ok := m.firstCommit(); !ok || len(ps) == 0 {
				return false
			}
			owned += len(ps)
		}
		return owned == groupPartitions
	})
}

func (g *benchGroup) startThree() (groupSample, error) {
	g.stopAll()
	for i := range g.members {
		if err := g.startMember(i); err != nil {
			return groupSample{}, err
		}
	}
	var last groupSample
	err := waitGroup(func() bool {
		last = groupSample{}
		for _, m := range g.members {
			at, ok := m.firstCommit()
			if !ok {
				return false
			}
			last.committed = max(last.committed, at.Sub(m.start))
			last.assigned = max(last.assigned, m.joinedAt().Sub(m.start))
		}
		return true
	})
	return last, err
}

// joinOf starts member 2 and measures it from its start.
func (g *benchGroup) joinOf() (groupSample, error) {
	if err := g.startMember(2); err != nil {
		return groupSample{}, err
	}
	m := g.members[2]
	var d groupSample
	err := waitGroup(func() bool {
		at, ok := m.firstCommit()
		d = groupSample{assigned: m.joinedAt().Sub(m.start), committed: at.Sub(m.start)}
		return ok
	})
	return d, err
}

func (g *benchGroup) thirdJoins() (groupSample, error) {
	if err := g.ensureThree(); err != nil {
		return groupSample{}, err
	}
	g.stop(2, syscall.SIGTERM)
	// The two others own everything and commit again.
	t := time.Now()
	if err := waitGroup(func() bool {
		owned := 0
		for _, m := range g.members[:2] {
			for _, p := range m.partitions() {
				if !m.committedAfter(p, t) {
					return false
				}
				owned++
			}
		}
		return owned == groupPartitions
	}); err != nil {
		return groupSample{}, err
	}
	return g.joinOf()
}

func (g *benchGroup) killRestart() (groupSample, error) {
	if err := g.ensureThree(); err != nil {
		return groupSample{}, err
	}
	g.stop(2, syscall.SIGKILL)
	return g.joinOf()
}

func (g *benchGroup) termTakeover() (groupSample, error) {
	if err := g.ensureThree(); err != nil {
		return groupSample{}, err
	}
	owned := g.members[2].partitions()
	t := time.Now()
	_ = g.members[2].cmd.Process.Signal(syscall.SIGTERM)
	var d groupSample
	err := waitGroup(func() bool {
		if d.assigned == 0 && len(g.members[0].partitions())+len(g.members[1].partitions()) == groupPartitions {
			d.assigned = time.Since(t)
		}
		for _, p := range owned {
			if !g.members[0].committedAfter(p, t) && !g.members[1].committedAfter(p, t) {
				return false
			}
		}
		d.committed = time.Since(t)
		return true
	})
	g.stop(2, syscall.SIGTERM)
	return d, err
}
