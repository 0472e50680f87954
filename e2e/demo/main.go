// Command demo runs the whole logpipe pipeline on one machine with no external services:
// an in-memory Kafka-protocol broker (e2e/kfakebroker, franz-go's kfake), `logpipe ship`
// tailing a sample access_log that the demo keeps appending to (and rotates half way), and
// `logpipe index` consuming the topic as group test123 into one NDJSON file per daily index
// (filebeat_test-YYYY.MM.dd) plus a rubydebug dump on stdout. Both logpipe processes are the
// real binary with the real configs in configs/demo/; nothing is simulated inside logpipe.
//
// It prints a summary (lines written, records in the topic, documents per index, group lag)
// and stops by itself. Run it with `make demo`.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/logpipe/logpipe/e2e/internal/brokerproc"
)

const (
	topic   = "kafka_test"
	groupID = "test123"
)

func main() {
	logpipe := flag.String("logpipe", "bin/logpipe", "path of the logpipe binary")
	broker := flag.String("broker", "bin/kfakebroker", "path of the kfake broker program")
	sample := flag.String("sample", "codecs/apache/testdata/elastic-examples-apache_logs.log", "access lines to replay")
	dir := flag.String("dir", "bin/demo", "working directory of the demo (wiped first)")
	show := flag.Int("show", 3, "rubydebug events to print from the indexer's stdout")
	timeout := flag.Duration("timeout", 50*time.Second, "give up after this long")
	flag.Parse()

	if err := run(*logpipe, *broker, *sample, *dir, *show, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(logpipe, brokerBin, sample, dir string, show int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()

	lines, err := readLines(sample)
	if err != nil {
		return fmt.Errorf("reading the sample (%s): %w", sample, err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for _, d := range []string{"logs", "indices", "ship", "index"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}

	addr, err := brokerproc.FreeAddr()
	if err != nil {
		return err
	}
	step("starting the embedded Kafka-protocol broker (kfake) on %s with topic %s (3 partitions)", addr, topic)
	broker, err := brokerproc.Start(ctx, brokerBin, addr, logFile(dir, "broker.log"), topic+":3")
	if err != nil {
		return fmt.Errorf("broker: %w (see %s)", err, filepath.Join(dir, "broker.log"))
	}
	defer broker.Stop()

	env := append(os.Environ(), "LOGPIPE_DEMO_DIR="+dir, "LOGPIPE_DEMO_BROKER="+addr)
	step("starting `logpipe ship -c configs/demo/ship.hcl` (log: %s)", filepath.Join(dir, "ship.log"))
	ship := exec.Command(logpipe, "ship", "-c", "configs/demo/ship.hcl")
	ship.Env, ship.Stdout, ship.Stderr = env, io.Discard, logFile(dir, "ship.log")
	if err := ship.Start(); err != nil {
		return fmt.Errorf("starting logpipe ship: %w", err)
	}
	defer stop(ship)

	step("starting `logpipe index -c configs/demo/index.hcl` (log: %s)", filepath.Join(dir, "index.log"))
	index := exec.Command(logpipe, "index", "-c", "configs/demo/index.hcl")
	index.Env, index.Stderr = env, logFile(dir, "index.log")
	indexOut, err := index.StdoutPipe()
	if err != nil {
		return err
	}
	if err := index.Start(); err != nil {
		return fmt.Errorf("starting logpipe index: %w", err)
	}
	defer stop(index)
	dumped := make(chan int, 1)
	go func() { dumped <- printRubydebug(indexOut, show) }()

	// Append the sample in chunks, rotating the file half way as logrotate would.
	logPath := filepath.Join(dir, "logs", "access_log")
	chunks := 10
	per := (len(lines) + chunks - 1) / chunks
	step("appending %d access lines to %s in %d chunks, rotating half way", len(lines), logPath, chunks)
	for i := 0; i < chunks; i++ {
		lo, hi := i*per, min((i+1)*per, len(lines))
		if lo >= hi {
			break
		}
		if i == chunks/2 {
			if err := os.Rename(logPath, logPath+".1"); err != nil {
				return err
			}
			step("rotated: access_log -> access_log.1")
		}
		if err := appendLines(logPath, lines[lo:hi]); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond): // pacing the writer, not synchronisation
		}
	}

	step("waiting until every line is a document in filebeat_test-YYYY.MM.dd")
	indices := filepath.Join(dir, "indices")
	for {
		docs, _ := countDocs(indices)
		total := 0
		for _, n := range docs {
			total += n
		}
		if total >= len(lines) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("only %d of %d lines arrived before the timeout (logs in %s)", total, len(lines), dir)
		case <-time.After(200 * time.Millisecond):
		}
	}

	step("stopping both roles with SIGTERM (they drain and commit)")
	shipErr := terminate(ship)
	indexErr := terminate(index)
	shown := <-dumped

	end, committed, err := brokerproc.GroupOffsets(ctx, addr, topic, groupID)
	if err != nil {
		return err
	}
	docs, err := countDocs(indices)
	if err != nil {
		return err
	}

	fmt.Printf("\n=== summary (%.1fs) ===\n", time.Since(start).Seconds())
	fmt.Printf("lines written to access_log:   %d\n", len(lines))
	var inTopic, lag int64
	parts := make([]int, 0, len(end))
	for p := range end {
		parts = append(parts, p)
	}
	sort.Ints(parts)
	for _, p := range parts {
		inTopic += end[p]
		lag += end[p] - committed[p]
	}
	fmt.Printf("records in topic %s:     %d\n", topic, inTopic)
	names := make([]string, 0, len(docs))
	total := 0
	for name := range docs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Printf("documents in %-24s %d\n", name+":", docs[name])
		total += docs[name]
	}
	fmt.Printf("documents in all indices:      %d\n", total)
	for _, p := range parts {
		fmt.Printf("group %s partition %d: end offset %d, committed %d, lag %d\n", groupID, p, end[p], committed[p], end[p]-committed[p])
	}
	fmt.Printf("rubydebug events printed above: %d\n", shown)
	fmt.Printf("ship exit: %v, index exit: %v\n", exitText(shipErr), exitText(indexErr))
	fmt.Printf("files: %s (logs, indices, registries)\n", dir)

	switch {
	case shipErr != nil || indexErr != nil:
		return errors.New("a logpipe process did not exit cleanly after SIGTERM")
	case inTopic != int64(len(lines)):
		return fmt.Errorf("topic holds %d records for %d lines", inTopic, len(lines))
	case lag != 0:
		return fmt.Errorf("group %s still has a lag of %d", groupID, lag)
	}
	fmt.Println("demo OK")
	return nil
}

func step(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n"), nil
}

func appendLines(path string, lines []string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func logFile(dir, name string) io.Writer {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return os.Stderr
	}
	return f
}

// printRubydebug copies the first n rubydebug events of the indexer's stdout to ours and
// discards the rest; it returns how many it printed.
func printRubydebug(r io.Reader, n int) int {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	printed := 0
	for sc.Scan() {
		if printed >= n {
			continue
		}
		line := sc.Text()
		if printed == 0 && line == "{" {
			fmt.Println("--- first events, as `stdout { codec = \"rubydebug\" }` prints them ---")
		}
		fmt.Println(line)
		if line == "}" {
			printed++
		}
	}
	return printed
}

// countDocs counts the documents (lines) of each daily index file.
func countDocs(dir string) (map[string]int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "filebeat_test-*.ndjson"))
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSuffix(filepath.Base(f), ".ndjson")] = bytes.Count(b, []byte{'\n'})
	}
	return out, nil
}

// terminate sends SIGTERM and waits for the process; it returns its exit error (nil on 0).
func terminate(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return errors.New("not started")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return errors.New("did not stop within 30s of SIGTERM")
	}
}

// stop kills a process that is still running when the demo returns early.
func stop(cmd *exec.Cmd) {
	if cmd.Process != nil && cmd.ProcessState == nil {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	}
}

func exitText(err error) string {
	if err == nil {
		return "0"
	}
	return err.Error()
}
