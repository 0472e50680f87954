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
//     -geoip-dir: the tree walk of every address is measured, most are not found);
//   - index-procs1, index-procs2, index-procs4: the index row with the environment variable
//     GOMAXPROCS set to 1, 2 and 4;
//   - ship-p16, ship-p64: ship into topics of 16 and 64 partitions (kafka_test has 3), which
//     index-p16 and index-p64 then index (index is the 3-partition row, printed again as
//     index-p3 beside them).
//
// Every index row has its own consumer group, so each reads its whole topic. For each row
// it reports wall time, lines/s, CPU seconds (user+system from the kernel's rusage of the
// child), CPU seconds per million lines, peak RSS, the ratio to its floor, and how many of
// the machine's cores were busy meanwhile (from /proc/stat: the process and its peers), as
// the median of -runs repetitions. -rows runs a subset (a ship row whose topic a selected row
// reads runs anyway, unprinted). It reports; it asserts nothing. Run it with
// `make bench-e2e` (or `make bench`).
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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/logpipe/logpipe/e2e/estest"
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
	group := flag.Bool("group", true, "also measure consumer group membership (about 1.5 minutes)")
	rowList := flag.String("rows", "", "comma-separated rows of the table to run (default: all; one of "+strings.Join(rowNames(), ", ")+")")
	flag.Parse()

	rows, err := parseRows(*rowList)
	if err != nil {
		fmt.Fprintln(os.Stderr, "-rows:", err)
		os.Exit(2)
	}
	if err := benchAll(*logpipe, *broker, *dir, *lines, *runs, rows, *stallBacklog, *stallWatch, *group); err != nil {
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		os.Exit(1)
	}
}

// benchAll runs the table's selected rows (unless runs is 0) and the stalled-output measure
// (when stallBacklog is set) and the consumer group table (when group is set) in dir, or in
// a temporary directory when dir is empty.
func benchAll(logpipe, broker, dir string, lines, runs int, rows rowSet, stallBacklog string, stallWatch time.Duration, group bool) error {
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
		if err := run(logpipe, broker, lines, runs, rows, dir); err != nil {
			return err
		}
	}
	if stallBacklog != "" {
		if err := stalled(logpipe, broker, dir, backlog, stallWatch); err != nil {
			return fmt.Errorf("stalled outputs: %w", err)
		}
	}
	if !group {
		return nil
	}
	if err := groupJoin(logpipe, broker, dir); err != nil { // e2e/bench/group.go
		return fmt.Errorf("consumer group membership: %w", err)
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
	// busy is how many of the machine's cores (of cores) were busy during the run, on
	// average, with everything on it (the process, the broker, the _bulk endpoint); -1 when
	// unknown.
	busy  float64
	cores int
}

// shipRow ships the generated file into topic, which the broker creates with partitions
// partitions. The p16 and p64 rows fill the topics of the index-p16 and index-p64 rows.
type shipRow struct {
	name, topic string
	partitions  int
}

func shipRows() []shipRow {
	return []shipRow{{"ship", "kafka_test", 3}, {"ship-p16", "kafka_test16", 16}, {"ship-p64", "kafka_test64", 64}}
}

// indexRow indexes topic in its own consumer group (so that it reads the whole topic)
// through the apache filter, with filter added to the filter's block; procs > 0 sets the
// environment variable GOMAXPROCS of the process.
type indexRow struct {
	name, group, topic, filter string
	procs                      int
}

func indexRows() []indexRow {
	return []indexRow{
		{name: "index-plain", group: "bench-plain", topic: "kafka_test", filter: "user_agent = false"},
		{name: "index", group: "test123", topic: "kafka_test"},
		{name: "index-geoip", group: "bench-geoip", topic: "kafka_test", filter: fmt.Sprintf("geoip {\n    city_database = %q\n    asn_database  = %q\n  }",
			filepath.Join(geoipDir, "GeoLite2-City-Test.mmdb"), filepath.Join(geoipDir, "GeoLite2-ASN-Test.mmdb"))},
		{name: "index-procs1", group: "bench-procs1", topic: "kafka_test", procs: 1},
		{name: "index-procs2", group: "bench-procs2", topic: "kafka_test", procs: 2},
		{name: "index-procs4", group: "bench-procs4", topic: "kafka_test", procs: 4},
		{name: "index-p16", group: "bench-p16", topic: "kafka_test16"},
		{name: "index-p64", group: "bench-p64", topic: "kafka_test64"},
	}
}

// rowNames lists the rows of the table in the order they run and print.
func rowNames() []string {
	names := []string{"floor-produce"}
	for _, s := range shipRows() {
		names = append(names, s.name)
	}
	names = append(names, "floor-consume")
	for _, r := range indexRows() {
		names = append(names, r.name)
	}
	return names
}

// floorOf names the floor a row's time is compared with ("" for the floors): kcat -P of the
// raw lines for the ship rows, kcat -C of kafka_test (3 partitions) for the index rows.
func floorOf(name string) string {
	switch {
	case strings.HasPrefix(name, "ship"):
		return "floor-produce"
	case strings.HasPrefix(name, "index"):
		return "floor-consume"
	}
	return ""
}

// rowSet is the rows selected with -rows.
type rowSet map[string]bool

func (s rowSet) has(name string) bool { return s[name] }

// parseRows reads -rows: a comma-separated list of row names (index-p3 is another name of
// index, whose topic has 3 partitions), or every row when list is empty.
func parseRows(list string) (rowSet, error) {
	known := rowSet{}
	for _, name := range rowNames() {
		known[name] = true
	}
	if strings.TrimSpace(list) == "" {
		return known, nil
	}
	sel := rowSet{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "index-p3" {
			name = "index"
		}
		if !known[name] {
			return nil, fmt.Errorf("unknown row %q (rows: %s)", name, strings.Join(rowNames(), ", "))
		}
		sel[name] = true
	}
	return sel, nil
}

func run(logpipe, broker string, n, runs int, rows rowSet, dir string) error {
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

	var names []string
	for _, name := range rowNames() {
		if rows.has(name) {
			names = append(names, name)
		}
	}
	all := map[string][]result{}
	for r := 0; r < runs; r++ {
		res, err := oneRun(logpipe, broker, dir, logFile, sinkURL, n, rows, sink)
		if err != nil {
			return fmt.Errorf("run %d: %w", r+1, err)
		}
		var times []string
		for _, name := range names {
			all[name] = append(all[name], res[name])
			times = append(times, fmt.Sprintf("%s %.2fs", name, res[name].wall.Seconds()))
		}
		fmt.Printf("run %d/%d: %s\n", r+1, runs, strings.Join(times, ", "))
	}

	med := map[string]result{}
	for name, rs := range all {
		med[name] = median(rs)
	}
	perM := func(m result) float64 { return m.cpu.Seconds() / (float64(n) / 1e6) }
	fmt.Printf("\nmachine: %d cores, %s/%s, %s; %d lines, medians of %d runs\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), n, runs)
	fmt.Println("| stage | time | lines/s | CPU-s | CPU-s per M lines | peak RSS | ratio to floor | machine busy |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	printRow := func(label, name string) {
		m := med[name]
		ratio := "-"
		if f, ok := med[floorOf(name)]; ok {
			ratio = fmt.Sprintf("%.2fx", m.wall.Seconds()/f.wall.Seconds())
		}
		busy := "-"
		if m.busy >= 0 {
			busy = fmt.Sprintf("%.2f of %d cores", m.busy, m.cores)
		}
		fmt.Printf("| %s | %.2fs | %.0f | %.2f | %.2f | %.0f MiB | %s | %s |\n", label, m.wall.Seconds(), float64(n)/m.wall.Seconds(),
			m.cpu.Seconds(), perM(m), float64(m.rssKB)/1024, ratio, busy)
	}
	p3Printed := false
	for _, name := range names {
		if (name == "index-p16" || name == "index-p64") && rows.has("index") && !p3Printed {
			// The index row reads the 3-partition topic: it is the p3 row of the series.
			printRow("index-p3 (= index)", "index")
			p3Printed = true
		}
		printRow(name, name)
	}

	if plain, ok := med["index-plain"]; ok {
		for _, name := range []string{"index", "index-geoip"} {
			if m, ok := med[name]; ok {
				fmt.Printf("\n%s vs index-plain: throughput %+.1f%%, CPU %+.1f%%", name,
					100*(plain.wall.Seconds()/m.wall.Seconds()-1), 100*(m.cpu.Seconds()/plain.cpu.Seconds()-1))
			}
		}
	}
	if one, ok := med["index-procs1"]; ok {
		fmt.Printf("\nindex by GOMAXPROCS (lines/s, x of GOMAXPROCS=1):")
		for _, p := range []int{1, 2, 4} {
			if m, ok := med[fmt.Sprintf("index-procs%d", p)]; ok {
				fmt.Printf(" %d: %.0f (%.2fx)", p, float64(n)/m.wall.Seconds(), one.wall.Seconds()/m.wall.Seconds())
			}
		}
		if one.busy >= 0 {
			// The rate can only grow with GOMAXPROCS while cores are free beside the process.
			fmt.Printf("; at GOMAXPROCS=1 the machine had %.2f of its %d cores busy (the process %.2f; the rest is the broker, the _bulk endpoint and anything else running)",
				one.busy, one.cores, one.cpu.Seconds()/one.wall.Seconds())
		}
	}
	if p3, ok := med["index"]; ok && (rows.has("index-p16") || rows.has("index-p64")) {
		fmt.Printf("\nindex CPU-s per M lines by partitions (vs 3): 3: %.2f", perM(p3))
		for _, p := range []int{16, 64} {
			if m, ok := med[fmt.Sprintf("index-p%d", p)]; ok {
				fmt.Printf(" %d: %.2f (%+.1f%%)", p, perM(m), 100*(m.cpu.Seconds()/p3.cpu.Seconds()-1))
			}
		}
	}
	fmt.Println()
	return nil
}

// oneRun starts a broker with every topic and measures the selected rows. A ship row that
// is not selected still runs, unmeasured in the table, when a selected row reads its topic.
func oneRun(logpipe, brokerBin, dir, logFile, sinkURL string, n int, rows rowSet, sink *bulkSink) (map[string]result, error) {
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
	topics := []string{"floor_raw:3"}
	for _, s := range shipRows() {
		topics = append(topics, fmt.Sprintf("%s:%d", s.topic, s.partitions))
	}
	broker, err := brokerproc.Start(ctx, brokerBin, addr, os.Stderr, topics...)
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
		before, beforeOK := machineCPU()
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, tail(stderr.String(), 2000))
		}
		wall := time.Since(start)
		after, afterOK := machineCPU()
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		res[name] = result{
			wall:  wall,
			cpu:   time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
			rssKB: ru.Maxrss,
			busy:  -1,
		}
		if beforeOK && afterOK {
			r := res[name]
			r.busy, r.cores = after.busyCoresSince(before), after.cores
			res[name] = r
		}
		return nil
	}

	// Floor: librdkafka producing the raw lines, with the shipper's durability settings.
	if rows.has("floor-produce") {
		if err := measure("floor-produce", exec.CommandContext(ctx, "kcat", "-P", "-b", addr, "-t", "floor_raw",
			"-X", "acks=all", "-z", "lz4", "-l", logFile)); err != nil {
			return nil, err
		}
	}

	// The same file into each topic that a selected row reads (each ship row has its own
	// data_dir, so each reads the whole file).
	read := map[string]bool{"kafka_test": rows.has("floor-consume")}
	for _, r := range indexRows() {
		read[r.topic] = read[r.topic] || rows.has(r.name)
	}
	for _, s := range shipRows() {
		if !rows.has(s.name) && !read[s.topic] {
			continue
		}
		shipCfg, err := writeShipConfig(runDir, s.name, logFile, addr, s.topic, "warn", "30s")
		if err != nil {
			return nil, err
		}
		if err := measure(s.name, exec.CommandContext(ctx, logpipe, append([]string{"ship", "--once", "-c", shipCfg}, profileArgs(s.name)...)...)); err != nil {
			return nil, err
		}
	}

	// Floor: librdkafka reading the topic ship wrote, to its end.
	if rows.has("floor-consume") {
		consume := exec.CommandContext(ctx, "kcat", "-C", "-b", addr, "-t", "kafka_test", "-e", "-q", "-o", "beginning")
		counter := &lineCounter{}
		consume.Stdout = counter
		if err := measure("floor-consume", consume); err != nil {
			return nil, err
		}
		if counter.n != int64(n) {
			return nil, fmt.Errorf("topic kafka_test holds %d records after ship, want %d", counter.n, n)
		}
	}

	// Each index row in its own consumer group, so each reads its whole topic.
	for _, row := range indexRows() {
		if !rows.has(row.name) {
			continue
		}
		indexCfg, err := writeIndexConfig(runDir, row.name, addr, sinkURL, row.topic, row.group, "warn", "30s", row.filter)
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, logpipe, append([]string{"index", "--once", "-c", indexCfg}, profileArgs(row.name)...)...)
		if row.procs > 0 {
			cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", row.procs))
		}
		sink.docs.Store(0)
		if err := measure(row.name, cmd); err != nil {
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

	mu      sync.Mutex
	answers map[answerKey][]byte // filtered answers, by shape (see ServeHTTP)
}

// answerKey is what a sink's answer depends on.
type answerKey struct {
	action, filterPath string
	items              int
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

// ServeHTTP answers _bulk as Elasticsearch does, filter_path included. The output asks for
// filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason (bulkPath in
// outputs/elasticsearch/bulk.go), so Elasticsearch writes, when every document was
// created, only {"errors":false,"items":[{"create":{"status":201}},...]}: no took, no
// _index, _id, _version, result, _shards, _seq_no or _primary_term. The sink used to send
// those members anyway, an answer real Elasticsearch never gives this output, and the output
// then left its byte-comparison path for the answer (parseCompactSuccess) for its slower
// scanner, so the index rows measured CPU that production does not spend. The full answer
// is built and filtered by the request's filter_path with the Elasticsearch test server's
// filter (estest.FilterPath), so a change of the output's filter_path is followed here; the
// result depends only on the action, the item count and filter_path, and is computed once
// per shape, so the sink takes little of the CPU the processes it measures share.
func (s *bulkSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if !strings.HasSuffix(r.URL.Path, "/_bulk") {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, sinkInfo)
		return
	}
	body, _ := io.ReadAll(r.Body)
	k := answerKey{action: actionOf(body), filterPath: r.URL.Query().Get("filter_path"), items: bytes.Count(body, []byte{'\n'}) / 2}
	s.mu.Lock()
	answer, ok := s.answers[k]
	if !ok {
		answer = createdAnswer(k.action, k.items)
		if k.filterPath != "" {
			answer = estest.FilterPath(answer, k.filterPath)
		}
		if s.answers == nil {
			s.answers = map[answerKey][]byte{}
		}
		s.answers[k] = answer
	}
	s.mu.Unlock()
	s.docs.Add(int64(k.items))
	w.Write(answer)
}

// actionOf returns the action of the request's first action line ("create" by default); the
// sink answers every item with it (the output sends only create actions).
func actionOf(body []byte) string {
	line, _, _ := bytes.Cut(body, []byte{'\n'})
	if rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte(`{"`)); ok {
		if name, _, ok := bytes.Cut(rest, []byte{'"'}); ok && len(name) > 0 {
			return string(name)
		}
	}
	return "create"
}

// createdAnswer is Elasticsearch 8's unfiltered _bulk answer for n documents all created by
// action. Every item carries the same _id and _seq_no: only filtered answers are read by
// the output, and its filter_path leaves those out.
func createdAnswer(action string, n int) []byte {
	item := `{"` + action + `":{"_index":"bench","_id":"bench","_version":1,"result":"created",` +
		`"_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}}`
	b := make([]byte, 0, 32+n*(len(item)+1))
	b = append(b, `{"took":1,"errors":false,"items":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, item...)
	}
	return append(b, "]}"...)
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
	busy := make([]float64, len(rs))
	for i, r := range rs {
		busy[i] = r.busy
		m.cores = max(m.cores, r.cores)
	}
	sort.Float64s(busy)
	m.busy = busy[len(busy)/2]
	return m
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// writeShipConfig writes dir/<name>.hcl: the file at logFile into topic on addr, with the
// shipper's production settings (acks all, lz4), and its own data_dir dir/<name> (so that
// each ship config reads the whole file).
func writeShipConfig(dir, name, logFile, addr, topic, logLevel, drain string) (string, error) {
	path := filepath.Join(dir, name+".hcl")
	return path, os.WriteFile(path, []byte(fmt.Sprintf(`
data_dir      = %q
drain_timeout = %q
logging { level = %q }
input "file" "access" {
  paths = [%q]
}
output "kafka" "main" {
  brokers       = [%q]
  topic         = %q
  required_acks = "all"
  compression   = "lz4"
}
`, filepath.Join(dir, name), drain, logLevel, logFile, addr, topic)), 0o644)
}

// writeIndexConfig writes dir/<name>.hcl: topic on addr as group, through the apache
// filter (with filterBody added to its block), into the _bulk endpoint at esURL.
func writeIndexConfig(dir, name, addr, esURL, topic, group, logLevel, drain, filterBody string) (string, error) {
	path := filepath.Join(dir, name+".hcl")
	return path, os.WriteFile(path, []byte(fmt.Sprintf(`
data_dir      = %q
drain_timeout = %q
logging { level = %q }
input "kafka" "main" {
  brokers      = [%q]
  topics       = [%q]
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
`, filepath.Join(dir, name), drain, logLevel, addr, topic, group, filterBody, esURL)), 0o644)
}
