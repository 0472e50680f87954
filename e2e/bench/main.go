// Command bench is logpipe's end-to-end benchmark. It generates Apache combined access lines,
// starts the kfake broker program, and measures in one run, as real processes:
//
//   - floor-produce: `kcat -P -l` of the raw lines (librdkafka, acks=all, lz4);
//   - ship: `logpipe ship --once` of the same file with the full wire-format event;
//   - floor-consume: `kcat -C -e -q -o beginning` reading what ship produced;
//   - index: `logpipe index --once` of that topic through the apache filter (its defaults:
//     user agents on, no GeoIP) into a _bulk endpoint that answers at once;
//   - index-plain: the same with user_agent = false (the filter without enrichment);
//   - index-geoip: the same with user agents and GeoIP (MaxMind's test databases from
//     -geoip-dir: the tree walk of every address is measured, most are not found).
//
// For each it reports wall time, lines/s, CPU seconds (user+system from the kernel's rusage of
// the child) and peak RSS, and the ratio to its floor, as the median of -runs repetitions. It
// reports; it asserts nothing. Run it with `make bench-e2e` (or `make bench`).
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/logpipe/logpipe/e2e/internal/brokerproc"
	"github.com/logpipe/logpipe/pipeline"
)

func main() {
	logpipe := flag.String("logpipe", "bin/logpipe", "path of the logpipe binary")
	broker := flag.String("broker", "bin/kfakebroker", "path of the kfake broker program")
	lines := flag.Int("lines", 1_000_000, "access lines to generate")
	runs := flag.Int("runs", 3, "repetitions; the table shows medians (0: skip the table)")
	dir := flag.String("dir", "", "working directory (default: a temporary one, removed afterwards)")
	flag.StringVar(&profileDir, "profile", "", "write pprof CPU and allocation profiles of ship and index into `DIR` (ship.cpu, ship.mem, index.cpu, index.mem; the last run wins)")
	stallBacklog := flag.String("stall-backlog", "", "also measure memory with stalled outputs and this much backlog (e.g. 1GB; empty: skip)")
	stallWatch := flag.Duration("stall-watch", 15*time.Second, "how long to watch a stalled process")
	flag.StringVar(&geoipDir, "geoip-dir", "codecs/apache/testdata/geoip", "directory of GeoLite2-City-Test.mmdb and GeoLite2-ASN-Test.mmdb for the index-geoip row")
	flag.Parse()

	if err := benchAll(*logpipe, *broker, *dir, *lines, *runs, *stallBacklog, *stallWatch); err != nil {
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		os.Exit(1)
	}
}

// benchAll runs the table (unless runs is 0) and the stalled-output measure (when
// stallBacklog is set) in dir, or in a temporary directory when dir is empty.
func benchAll(logpipe, broker, dir string, lines, runs int, stallBacklog string, stallWatch time.Duration) error {
	var backlog int64
	if stallBacklog != "" {
		var err error
		if backlog, err = pipeline.ParseBytes(stallBacklog); err != nil {
			return fmt.Errorf("-stall-backlog: %w", err)
		}
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "logpipe-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if runs > 0 {
		if err := run(logpipe, broker, lines, runs, dir); err != nil {
			return err
		}
	}
	if stallBacklog != "" {
		if err := stalled(logpipe, broker, dir, backlog, stallWatch); err != nil {
			return fmt.Errorf("stalled outputs: %w", err)
		}
	}
	return nil
}

// geoipDir holds the MaxMind test databases used by the index-geoip row (-geoip-dir).
var geoipDir string

// profileDir, when set, makes ship and index write pprof profiles there (-profile).
var profileDir string

// profileArgs returns the hidden profiling flags of logpipe for stage name, or nothing.
func profileArgs(name string) []string {
	if profileDir == "" {
		return nil
	}
	return []string{"--cpuprofile", filepath.Join(profileDir, name+".cpu"), "--memprofile", filepath.Join(profileDir, name+".mem")}
}

// result is one measured process run.
type result struct {
	wall  time.Duration
	cpu   time.Duration
	rssKB int64
}

func run(logpipe, broker string, n, runs int, dir string) error {
	for _, tool := range []string{logpipe, broker} {
		if _, err := os.Stat(tool); err != nil {
			return fmt.Errorf("%s: %w (run `make build` first)", tool, err)
		}
	}
	if _, err := exec.LookPath("kcat"); err != nil {
		return errors.New("kcat is not installed (make deps)")
	}
	logFile := filepath.Join(dir, "access_log")
	size, err := generate(logFile, n)
	if err != nil {
		return err
	}
	fmt.Printf("generated %d Apache combined lines (%.0f MB) in %s\n", n, float64(size)/1e6, logFile)

	sink := &bulkSink{}
	srv, sinkURL, err := sink.start()
	if err != nil {
		return err
	}
	defer srv.Close()

	names := []string{"floor-produce", "ship", "floor-consume", "index-plain", "index", "index-geoip"}
	all := map[string][]result{}
	for r := 0; r < runs; r++ {
		res, err := oneRun(logpipe, broker, dir, logFile, sinkURL, n, sink)
		if err != nil {
			return fmt.Errorf("run %d: %w", r+1, err)
		}
		for _, name := range names {
			all[name] = append(all[name], res[name])
		}
		fmt.Printf("run %d/%d: ship %.2fs (floor %.2fs), index %.2fs (floor %.2fs)\n", r+1, runs,
			res["ship"].wall.Seconds(), res["floor-produce"].wall.Seconds(), res["index"].wall.Seconds(), res["floor-consume"].wall.Seconds())
	}

	fmt.Printf("\nmachine: %d cores, %s/%s, %s; %d lines, medians of %d runs\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), n, runs)
	fmt.Println("| stage | time | lines/s | CPU-s | peak RSS | ratio to floor |")
	fmt.Println("|---|---|---|---|---|---|")
	floorOf := map[string]string{"ship": "floor-produce", "index": "floor-consume", "index-plain": "floor-consume", "index-geoip": "floor-consume"}
	for _, name := range names {
		m := median(all[name])
		ratio := "-"
		if f, ok := floorOf[name]; ok {
			ratio = fmt.Sprintf("%.2fx", m.wall.Seconds()/median(all[f]).wall.Seconds())
		}
		fmt.Printf("| %s | %.2fs | %.0f | %.2f | %.0f MiB | %s |\n", name, m.wall.Seconds(), float64(n)/m.wall.Seconds(), m.cpu.Seconds(), float64(m.rssKB)/1024, ratio)
	}
	plain := median(all["index-plain"])
	for _, name := range []string{"index", "index-geoip"} {
		m := median(all[name])
		fmt.Printf("\n%s vs index-plain: throughput %+.1f%%, CPU %+.1f%%", name,
			100*(plain.wall.Seconds()/m.wall.Seconds()-1), 100*(m.cpu.Seconds()/plain.cpu.Seconds()-1))
	}
	fmt.Println()
	return nil
}

func oneRun(logpipe, brokerBin, dir, logFile, sinkURL string, n int, sink *bulkSink) (map[string]result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	runDir, err := os.MkdirTemp(dir, "run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(runDir)

	addr, err := brokerproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	broker, err := brokerproc.Start(ctx, brokerBin, addr, os.Stderr, "kafka_test:3", "floor_raw:3")
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	defer broker.Stop()

	res := map[string]result{}
	measure := func(name string, cmd *exec.Cmd) error {
		var stderr bytes.Buffer
		if cmd.Stderr == nil {
			cmd.Stderr = &stderr
		}
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, tail(stderr.String(), 2000))
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		res[name] = result{
			wall:  time.Since(start),
			cpu:   time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
			rssKB: ru.Maxrss,
		}
		return nil
	}

	// Floor: librdkafka producing the raw lines, with the shipper's durability settings.
	if err := measure("floor-produce", exec.CommandContext(ctx, "kcat", "-P", "-b", addr, "-t", "floor_raw",
		"-X", "acks=all", "-z", "lz4", "-l", logFile)); err != nil {
		return nil, err
	}

	shipCfg, err := writeShipConfig(runDir, logFile, addr, "warn", "30s")
	if err != nil {
		return nil, err
	}
	if err := measure("ship", exec.CommandContext(ctx, logpipe, append([]string{"ship", "--once", "-c", shipCfg}, profileArgs("ship")...)...)); err != nil {
		return nil, err
	}

	// Floor: librdkafka reading the topic ship wrote, to its end.
	consume := exec.CommandContext(ctx, "kcat", "-C", "-b", addr, "-t", "kafka_test", "-e", "-q", "-o", "beginning")
	counter := &lineCounter{}
	consume.Stdout = counter
	if err := measure("floor-consume", consume); err != nil {
		return nil, err
	}
	if counter.n != int64(n) {
		return nil, fmt.Errorf("topic kafka_test holds %d records after ship, want %d", counter.n, n)
	}

	// The same topic three times, each row in its own consumer group.
	for _, row := range []struct{ name, group, filter string }{
		{"index-plain", "bench-plain", "user_agent = false"},
		{"index", "test123", ""},
		{"index-geoip", "bench-geoip", fmt.Sprintf("geoip {\n    city_database = %q\n    asn_database  = %q\n  }",
			filepath.Join(geoipDir, "GeoLite2-City-Test.mmdb"), filepath.Join(geoipDir, "GeoLite2-ASN-Test.mmdb"))},
	} {
		indexCfg, err := writeIndexConfig(runDir, row.name, addr, sinkURL, row.group, "warn", "30s", row.filter)
		if err != nil {
			return nil, err
		}
		sink.docs.Store(0)
		if err := measure(row.name, exec.CommandContext(ctx, logpipe, append([]string{"index", "--once", "-c", indexCfg}, profileArgs(row.name)...)...)); err != nil {
			return nil, err
		}
		if got := sink.docs.Load(); got < int64(n) {
			return nil, fmt.Errorf("%s: the bulk endpoint received %d documents, want %d", row.name, got, n)
		}
	}
	return res, nil
}

// generate writes n deterministic Apache combined lines and returns the file size.
func generate(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	methods := []string{"GET", "GET", "GET", "POST", "HEAD"}
	paths := []string{"/", "/index.html", "/images/logo.png", "/api/v1/items?id=%d", "/blog/2015/05/%d/post.html", "/static/app.%d.js"}
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
		"curl/8.5.0",
	}
	statuses := []int{200, 200, 200, 200, 304, 404, 500}
	t := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		t = t.Add(time.Duration(rng.IntN(200)) * time.Millisecond)
		p := paths[rng.IntN(len(paths))]
		if strings.Contains(p, "%d") {
			p = fmt.Sprintf(p, rng.IntN(10000))
		}
		fmt.Fprintf(w, "%d.%d.%d.%d - - [%s] \"%s %s HTTP/1.1\" %d %d \"http://example.com/\" \"%s\"\n",
			rng.IntN(223)+1, rng.IntN(256), rng.IntN(256), rng.IntN(256),
			t.Format("02/Jan/2006:15:04:05 -0700"), methods[rng.IntN(len(methods))], p,
			statuses[rng.IntN(len(statuses))], rng.IntN(50000), agents[rng.IntN(len(agents))])
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), f.Close()
}

// sinkInfo is the GET / answer of the benchmark's _bulk endpoints, enough for the Go
// client's product check (with the X-Elastic-Product header).
const sinkInfo = `{"name":"bench","cluster_name":"bench","version":{"number":"8.15.0","build_flavor":"default"},"tagline":"You Know, for Search"}`

// bulkSink is a _bulk endpoint that answers at once: every item created. It speaks just
// enough of the Elasticsearch API for the Go client (product header, GET /).
type bulkSink struct {
	docs atomic.Int64
}

func (s *bulkSink) start() (*http.Server, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: s}
	go srv.Serve(l)
	return srv, "http://" + l.Addr().String(), nil
}

func (s *bulkSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if !strings.HasSuffix(r.URL.Path, "/_bulk") {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, sinkInfo)
		return
	}
	body, _ := io.ReadAll(r.Body)
	items := bytes.Count(body, []byte{'\n'}) / 2
	s.docs.Add(int64(items))
	var b bytes.Buffer
	b.WriteString(`{"took":1,"errors":false,"items":[`)
	for i := 0; i < items; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"create":{"_index":"x","_id":"x","_version":1,"result":"created","status":201}}`)
	}
	b.WriteString(`]}`)
	w.Write(b.Bytes())
}

type lineCounter struct{ n int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

func median(rs []result) result {
	sorted := append([]result(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].wall < sorted[j].wall })
	m := sorted[len(sorted)/2]
	cpus := make([]time.Duration, len(rs))
	rss := make([]int64, len(rs))
	for i, r := range rs {
		cpus[i], rss[i] = r.cpu, r.rssKB
	}
	sort.Slice(cpus, func(i, j int) bool { return cpus[i] < cpus[j] })
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	m.cpu, m.rssKB = cpus[len(cpus)/2], rss[len(rss)/2]
	return m
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// writeShipConfig writes dir/ship.hcl: the file at logFile into kafka_test on addr, with the
// shipper's production settings (acks all, lz4).
func writeShipConfig(dir, logFile, addr, logLevel, drain string) (string, error) {
	path := filepath.Join(dir, "ship.hcl")
	return path, os.WriteFile(path, []byte(fmt.Sprintf(`
data_dir      = %q
drain_timeout = %q
logging { level = %q }
input "file" "access" {
  paths = [%q]
}
output "kafka" "main" {
  brokers       = [%q]
  topic         = "kafka_test"
  required_acks = "all"
  compression   = "lz4"
}
`, filepath.Join(dir, "ship"), drain, logLevel, logFile, addr)), 0o644)
}

// writeIndexConfig writes dir/<name>.hcl: kafka_test on addr as group, through the apache
// filter (with filterBody added to its block), into the _bulk endpoint at esURL.
func writeIndexConfig(dir, name, addr, esURL, group, logLevel, drain, filterBody string) (string, error) {
	path := filepath.Join(dir, name+".hcl")
	return path, os.WriteFile(path, []byte(fmt.Sprintf(`
data_dir      = %q
drain_timeout = %q
logging { level = %q }
input "kafka" "main" {
  brokers      = [%q]
  topics       = ["kafka_test"]
  group_id     = %q
  start_offset = "earliest"
}
filter "apache" "access" {
  field = "message"
  %s
}
output "elasticsearch" "main" {
  hosts           = [%q]
  index           = "filebeat_test-%%{+YYYY.MM.dd}"
  manage_template = false
}
`, filepath.Join(dir, name), drain, logLevel, addr, group, filterBody, esURL)), 0o644)
}
