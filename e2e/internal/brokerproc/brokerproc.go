// Package brokerproc starts the kfake broker program (e2e/kfakebroker) as a child process for
// the demo and the benchmark, which are programs rather than tests (tests use e2e/harness),
// and reads a consumer group's offsets from outside (GroupOffsets, also used by the e2e
// tests).
package brokerproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Broker is a running kfake broker process.
type Broker struct {
	Addr string
	cmd  *exec.Cmd
}

// Start runs the broker program bin on addr with the given topics ("name:partitions") and
// returns once it printed its "ready" line. stderr receives the broker's own log.
func Start(ctx context.Context, bin, addr string, stderr io.Writer, topics ...string) (*Broker, error) {
	args := []string{"-listen", addr}
	for _, t := range topics {
		args = append(args, "-topic", t)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w (run `make build` first)", bin, err)
	}
	b := &Broker{Addr: addr, cmd: cmd}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- errors.New("the broker exited before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			b.Stop()
			return nil, err
		}
		return b, nil
	case <-ctx.Done():
		b.Stop()
		return nil, ctx.Err()
	}
}

// Signal sends sig to the broker process (SIGSTOP and SIGCONT freeze and thaw it, which is
// how the benchmark stalls an output).
func (b *Broker) Signal(sig syscall.Signal) error { return b.cmd.Process.Signal(sig) }

// Stop terminates the broker (thawing it first, in case it was stopped) and waits for it.
func (b *Broker) Stop() {
	if b.cmd.Process != nil && b.cmd.ProcessState == nil {
		_ = b.cmd.Process.Signal(syscall.SIGCONT)
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		_ = b.cmd.Wait()
	}
}

// GroupOffsets reads, with a Kafka client of its own (independent of logpipe), the end
// offset of every partition of topic and the offset group committed for it (0 when none).
func GroupOffsets(ctx context.Context, addr, topic, group string) (end, committed map[int]int64, err error) {
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, nil, fmt.Errorf("metadata: %w", err)
	}
	var reqs []kafka.OffsetRequest
	var parts []int
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			reqs = append(reqs, kafka.LastOffsetOf(p.ID))
			parts = append(parts, p.ID)
		}
	}
	lo, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, nil, fmt.Errorf("list offsets: %w", err)
	}
	end = map[int]int64{}
	for _, po := range lo.Topics[topic] {
		if po.Error != nil {
			return nil, nil, fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		end[po.Partition] = po.LastOffset
	}
	of, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, nil, fmt.Errorf("offset fetch: %w", err)
	}
	committed = map[int]int64{}
	for _, p := range of.Topics[topic] {
		if p.Error != nil {
			return nil, nil, fmt.Errorf("offset fetch of %s/%d: %w", topic, p.Partition, p.Error)
		}
		committed[p.Partition] = max(p.CommittedOffset, 0)
	}
	return end, committed, nil
}
