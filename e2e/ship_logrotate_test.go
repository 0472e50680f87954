package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// Rotation scenario parameters. The writer runs at 2,000 lines/s (one write(2) per line),
// with a spike around each copytruncate and a slow start after each rotation (see
// burstFactor and slowStart); rotations are rotateGap apart.
const (
	rotateRate        = 2000
	rotateReopenDelay = 150 * time.Millisecond // graceful reload: lines still go to the renamed log meanwhile
	rotateGap         = 2 * time.Second
)

// killPoint is when, relative to a rotation, the shipper is killed with SIGKILL.
type killPoint int

const (
	// afterRotation: after the rename (create) or the truncate (copytruncate) is visible.
	afterRotation killPoint = iota
	// afterFirstLine: after the first line of the new log (create) or of the regrown
	// truncated log (copytruncate) is visible.
	afterFirstLine
	// afterShipped: after that first line is in Kafka, so most likely before the registry
	// (written once a second) knows the new file: the id of its lines must not depend on
	// anything that the kill loses.
	afterShipped
)

func (k killPoint) String() string {
	switch k {
	case afterRotation:
		return "after the rotation"
	case afterFirstLine:
		return "after the first line of the new file"
	}
	return "after the first line of the new file reached Kafka"
}

// rotationStep is one forced logrotate run and the kill -9 that follows it.
type rotationStep struct {
	mode  string // "create" (+ SIGUSR1 graceful reload) or "copytruncate"
	kill  killPoint
	delay time.Duration // from the kill point to SIGKILL; always < 100ms
}

// logrotatePlan: nine rotations (five create + graceful reload, four copytruncate), each
// followed by a kill -9 of the shipper at a different moment within 100 ms of the rotation,
// of the first line of the new file, or of that line reaching Kafka, then a restart.
var logrotatePlan = []rotationStep{
	{"create", afterRotation, 20 * time.Millisecond},
	{"copytruncate", afterRotation, 60 * time.Millisecond},
	{"create", afterFirstLine, 50 * time.Millisecond},
	{"copytruncate", afterFirstLine, 80 * time.Millisecond},
	{"create", afterShipped, 30 * time.Millisecond},
	{"copytruncate", afterShipped, 10 * time.Millisecond},
	{"create", afterFirstLine, 5 * time.Millisecond},
	{"copytruncate", afterRotation, 5 * time.Millisecond},
	{"create", afterRotation, 80 * time.Millisecond},
}

// Exactly once through real log rotation (issue 11). A writer process appends numbered
// Apache access lines to access_log at 2,000 lines/s (10,000 lines/s for 100 ms around each
// copytruncate, so that lines land between the copy and the truncate; 5 lines/s for 1.2 s
// after each rotation, so that the new log is read and shipped while it is shorter than
// 1 KiB) while Debian's logrotate rotates it nine times (create + graceful reload via
// SIGUSR1, and copytruncate; compress with delaycompress), and the shipper, at production
// defaults, is killed with SIGKILL within 100 ms of each rotation, of the first line of the
// new file, or of that line reaching Kafka, and restarted. At the end the topic is indexed
// with `logpipe index --once` into the Elasticsearch test server.
//
//   - glob: paths = ["<dir>/access_log*"], exclude = ["*.gz"] (the README's recipe). Every
//     line that exists in some file at the end (access_log, access_log.1, access_log.N.gz)
//     is exactly once in Elasticsearch. The only lines that may be missing are those
//     copytruncate destroys: written after logrotate's copy and before its truncate, so
//     present in no file; those are expected exactly once if the shipper had read them
//     (they are in Kafka), and are counted as lost otherwise. The test derives the set
//     exactly from the files (each file holds a contiguous run of line numbers; a gap
//     between two consecutive files is the copytruncate window of that rotation, and a gap
//     after a create rotation fails the test), so the assertion has no tolerance.
//   - path: paths = ["<dir>/access_log"]. Lines of a rotated file that the shipper had not
//     committed when it was killed are legitimately not found again (the README says so), and
//     a copy is never read; those are counted and logged. Every line of the live access_log is
//     in Elasticsearch, and every line that reached Kafka is exactly once in Elasticsearch.
//
// In both, Kafka must hold no line under two different @metadata._id (a re-send after kill -9
// under the same id is allowed: Elasticsearch stores it once), and no record that is not a
// whole line.
func TestShipLogrotate(t *testing.T) {
	t.Parallel()
	harness.SkipIfShort(t)
	logrotateBin(t)
	t.Run("glob", func(t *testing.T) {
		t.Parallel()
		runLogrotateScenario(t, true)
	})
	t.Run("path", func(t *testing.T) {
		t.Parallel()
		runLogrotateScenario(t, false)
	})
}

func runLogrotateScenario(t *testing.T, glob bool) {
	start := time.Now()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(logs, "access_log")
	broker := harness.StartBroker(t, harness.BrokerOptions{Topics: []string{topic + ":3"}})
	paths, exclude := []string{log}, []string(nil)
	if glob {
		paths, exclude = []string{log + "*"}, []string{"*.gz"}
	}
	cfg := harness.WriteConfig(t, dir, "ship.hcl", shipConfigAtDefaults(dir, broker.Addr(), paths, exclude))

	w := startAccessWriter(t, log, rotateRate, rotateReopenDelay)
	rot := newRotator(t, dir, log, w.proc.Pid())
	tail := startTopicTail(t, broker.Addr(), log)
	ship := harness.StartLogpipe(t, "ship", "-c", cfg)
	var kills []string
	for i, step := range logrotatePlan {
		// Pacing: the writer keeps writing and the shipper catches up between rotations
		// (rotations are seconds apart in this test, days apart in production).
		time.Sleep(rotateGap)
		late := rotateAndKill(t, rot, w, tail, log, step, ship)
		kills = append(kills, fmt.Sprintf("#%d %s: SIGKILL %s %s", i+1, step.mode, late.Round(time.Millisecond), step.kill))
		if late >= 100*time.Millisecond {
			t.Logf("rotation %d: the kill came %s after the kill point (machine busy), not within 100ms", i+1, late)
		}
		ship = harness.StartLogpipe(t, "ship", "-c", cfg)
	}
	time.Sleep(rotateGap) // more lines after the last restart
	written := w.stop(t)
	t.Logf("%s: writer stopped; kills: %s", time.Since(start).Round(time.Millisecond), strings.Join(kills, "; "))

	// What the files hold at the end, and what copytruncate destroyed.
	files := readLogFiles(t, logs)
	inFiles, destroyed, live := fileAccounting(t, files, written)

	// Everything that can arrive has arrived once every line that must be shipped is in
	// the topic and the count has settled; then stop the shipper (SIGTERM drains).
	mustShip := inFiles
	if !glob {
		mustShip = live
	}
	tail.waitSettled(t, 3*time.Second, 90*time.Second, mustShip, nil)
	t.Logf("%s: every line that must be shipped is in the topic, settled", time.Since(start).Round(time.Millisecond))
	ship.Terminate(t, 30*time.Second)
	kv := analyseRotTopic(tail.waitEnd(t, broker.Addr()))

	es := indexOnceIntoES(t, dir, broker.Addr())
	t.Logf("%s: indexed", time.Since(start).Round(time.Millisecond))
	docs := map[int][]string{} // line -> _ids of its documents
	var strayDocs []string
	for _, d := range es.Documents() {
		var src struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(d.Source, &src); err != nil {
			t.Fatalf("document %s/%s is not JSON: %v", d.Index, d.ID, err)
		}
		n, ok := accessLineNo(src.Message)
		if !ok {
			strayDocs = append(strayDocs, src.Message)
			continue
		}
		docs[n] = append(docs[n], d.ID)
	}

	// The lines Elasticsearch must hold exactly once.
	expected := map[int]bool{}
	for n := range kv.ids {
		expected[n] = true
	}
	var lostFromFiles []int // in a file the shipper must read, yet never shipped
	for n := range mustShip {
		if !expected[n] {
			lostFromFiles = append(lostFromFiles, n)
		}
		expected[n] = true
	}
	sort.Ints(lostFromFiles)
	destroyedRead, destroyedLost := 0, 0
	for n := range destroyed {
		if kv.ids[n] != nil {
			destroyedRead++
		} else {
			destroyedLost++
		}
	}
	notShipped := 0 // path only: lines in rotated files the shipper never shipped
	for n := range inFiles {
		if kv.ids[n] == nil && !live[n] {
			notShipped++
		}
	}
	var missing, duplicated, wrongID []int
	for n := range expected {
		ids := docs[n]
		switch {
		case len(ids) == 0:
			missing = append(missing, n)
		case len(ids) > 1:
			duplicated = append(duplicated, n)
		case kv.ids[n] != nil && !kv.ids[n][ids[0]]:
			wrongID = append(wrongID, n)
		}
	}
	for n := range docs {
		if !expected[n] {
			strayDocs = append(strayDocs, fmt.Sprintf("line %d", n))
		}
	}
	sort.Ints(missing)
	sort.Ints(duplicated)

	t.Logf("%d lines written in %d files; %d in the files at the end, %d destroyed by copytruncate "+
		"(written between copy and truncate: %d read by the shipper before the truncate, %d lost)",
		written, len(files), len(inFiles), len(destroyed), destroyedRead, destroyedLost)
	if len(destroyed) == 0 {
		t.Errorf("no line was written between a copy and its truncate: the scenario did not exercise copytruncate's window")
	}
	if !glob {
		t.Logf("path: %d lines of rotated files never shipped (not in the glob after a kill, or only in the copy)", notShipped)
	}
	t.Logf("Kafka: %d records of %d distinct lines; %d re-sent under the same _id; %d lines under 2+ different _ids; %d records that are not whole lines",
		kv.records, len(kv.ids), kv.records-len(kv.bad)-len(kv.ids)-kv.extraIDs, kv.multiID, len(kv.bad))
	t.Logf("Elasticsearch: %d documents; of %d lines expected: %d missing, %d stored more than once, %d under an id Kafka did not carry; %d stray documents",
		len(es.Documents()), len(expected), len(missing), len(duplicated), len(wrongID), len(strayDocs))

	if len(kv.bad) > 0 {
		t.Errorf("%d Kafka records are not whole access lines (fragments?), first: %.200q", len(kv.bad), kv.bad[0])
	}
	if kv.multiID > 0 {
		t.Errorf("%d lines are in Kafka under two or more different _ids (%d extra ids); first: %s",
			kv.multiID, kv.extraIDs, kv.example)
	}
	if len(lostFromFiles) > 0 {
		t.Errorf("%d lines present in the files the shipper reads were never shipped: %s", len(lostFromFiles), sampleInts(lostFromFiles))
	}
	if len(missing)+len(duplicated)+len(wrongID)+len(strayDocs) > 0 {
		t.Errorf("Elasticsearch is not exactly once: %d missing %s, %d stored more than once %s, %d with an _id Kafka did not carry, %d stray documents %q",
			len(missing), sampleInts(missing), len(duplicated), sampleInts(duplicated), len(wrongID), len(strayDocs), headStrings(strayDocs, 3))
	}
}

// rotateAndKill runs logrotate in step's mode, waits for the step's kill point (the file
// polled every millisecond, Kafka through tail), kills the shipper with SIGKILL step.delay
// later and waits for logrotate to finish. It returns how long after the kill point SIGKILL
// was sent.
func rotateAndKill(t *testing.T, rot *rotator, w *accessWriter, tail *topicTail, log string, step rotationStep, ship *harness.Process) time.Duration {
	t.Helper()
	before, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	oldFirst := firstLineNo(t, log)
	if step.mode == "copytruncate" {
		w.proc.Signal(t, syscall.SIGUSR2) // traffic spike across the copy and the truncate
	}
	cmd := rot.start(t, step.mode)
	last := before.Size()
	anchor := pollLogFile(t, log, "the rotation of "+log, func(fi os.FileInfo) bool {
		// create: the log was renamed away (gone, or another inode at its path);
		// copytruncate: it shrank.
		if fi == nil || !os.SameFile(fi, before) || fi.Size() < last {
			return true
		}
		last = fi.Size()
		return false
	})
	if step.kill == afterFirstLine {
		anchor = pollLogFile(t, log, "the first line of the new "+log, func(fi os.FileInfo) bool {
			return fi != nil && fi.Size() > 0 && (step.mode != "create" || !os.SameFile(fi, before))
		})
	}
	if step.kill == afterShipped {
		// The line at offset 0 of the new (or regrown) file has a number above the old
		// file's first line; it is polled every millisecond in what the tail consumed.
		deadline := time.Now().Add(30 * time.Second)
		for !tail.shippedStartAfter(oldFirst) {
			if time.Now().After(deadline) {
				t.Fatalf("the first line of the new %s did not reach Kafka within 30s", log)
			}
			time.Sleep(time.Millisecond)
		}
		anchor = time.Now()
	}
	time.Sleep(time.Until(anchor.Add(step.delay))) // the chosen kill moment, not a synchronisation
	late := time.Since(anchor)
	ship.Kill(t)
	rot.finish(t, cmd)
	return late
}

// pollLogFile stats path every millisecond until cond (given nil when path does not exist)
// holds, and returns when it did.
func pollLogFile(t *testing.T, path, what string, cond func(os.FileInfo) bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err != nil {
			fi = nil
		}
		if cond(fi) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fileAccounting checks the log files against the writer (lines 0..written-1, each file a
// contiguous run, files in order, create rotations without a gap) and returns the lines
// in the files, the lines copytruncate destroyed (in no file), and the lines of the live log.
func fileAccounting(t *testing.T, files []logFileLines, written int) (inFiles, destroyed, live map[int]bool) {
	t.Helper()
	if len(files) != len(logrotatePlan)+1 {
		names := make([]string, len(files))
		for i, f := range files {
			names[i] = f.name
		}
		t.Fatalf("log files %v: want %d rotations plus the live log", names, len(logrotatePlan))
	}
	inFiles, destroyed, live = map[int]bool{}, map[int]bool{}, map[int]bool{}
	next := 0
	for i, f := range files {
		if len(f.lines) == 0 {
			t.Fatalf("%s is empty", f.name)
		}
		for k, n := range f.lines {
			if k > 0 && n != f.lines[k-1]+1 {
				t.Fatalf("%s: line %d follows line %d", f.name, n, f.lines[k-1])
			}
			inFiles[n] = true
		}
		first := f.lines[0]
		switch {
		case first < next:
			t.Fatalf("%s starts with line %d, already in an older file", f.name, first)
		case first > next && (i == 0 || logrotatePlan[i-1].mode != "copytruncate"):
			t.Fatalf("lines %d..%d are in no file, before %s (no copytruncate there)", next, first-1, f.name)
		}
		for n := next; n < first; n++ {
			destroyed[n] = true
		}
		if i > 0 && logrotatePlan[i-1].mode == "copytruncate" {
			t.Logf("rotation %d (copytruncate): %d lines written between the copy and the truncate", i, first-next)
		}
		next = f.lines[len(f.lines)-1] + 1
	}
	if next != written {
		t.Fatalf("the live log ends with line %d, the writer wrote %d lines", next-1, written)
	}
	for _, n := range files[len(files)-1].lines {
		live[n] = true
	}
	return inFiles, destroyed, live
}

// rotTopicView is what the topic holds, per line.
type rotTopicView struct {
	ids      map[int]map[string]bool // line -> distinct @metadata._id
	records  int
	bad      []string // records whose message is not a whole line of the writer
	multiID  int      // lines under two or more ids
	extraIDs int      // ids beyond the first, summed over lines
	example  string   // the first line under two ids, with where each copy came from
}

// analyseRotTopic groups the events by line number.
func analyseRotTopic(evs []harness.Event) rotTopicView {
	v := rotTopicView{ids: map[int]map[string]bool{}, records: len(evs)}
	byLine := map[int][]harness.Event{}
	for _, ev := range evs {
		n, ok := accessLineNo(ev.Message)
		if !ok {
			v.bad = append(v.bad, ev.Message)
			continue
		}
		if v.ids[n] == nil {
			v.ids[n] = map[string]bool{}
		}
		v.ids[n][ev.Metadata.ID] = true
		byLine[n] = append(byLine[n], ev)
	}
	first := -1
	for n, ids := range v.ids {
		if len(ids) > 1 {
			v.multiID++
			v.extraIDs += len(ids) - 1
			if first < 0 || n < first {
				first = n
			}
		}
	}
	if first >= 0 {
		var parts []string
		for _, ev := range byLine[first] {
			parts = append(parts, fmt.Sprintf("{_id %s, %s offset %d, fingerprint %.12s}",
				ev.Metadata.ID, filepath.Base(ev.Log.File.Path), ev.Log.Offset, ev.Log.File.Fingerprint))
		}
		v.example = fmt.Sprintf("line %d: %s", first, strings.Join(parts, ", "))
	}
	return v
}

// sampleInts formats the first ten numbers of ns.
func sampleInts(ns []int) string {
	if len(ns) > 10 {
		return fmt.Sprint(ns[:10]) + "..."
	}
	return fmt.Sprint(ns)
}

// headStrings returns the first n strings of ss.
func headStrings(ss []string, n int) []string {
	if len(ss) > n {
		return ss[:n]
	}
	return ss
}

// Truncate and regrow past the old offset between two scans, at production defaults
// (poll_interval 1s, fsnotify on): access_log is rewritten in place with more (different)
// content than was read, the way `cmd > access_log` does (O_TRUNC, then the writes,
// microseconds apart), so only an fsnotify wake-up can come between the truncate and the
// regrowth, never a scan. Three times. Every line of every generation reaches Kafka exactly
// once: no fragment read at the old offset, no generation read twice under two ids.
func TestShipTruncateRegrowBetweenScans(t *testing.T) {
	t.Parallel()
	harness.SkipIfShort(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "logs", "access_log")
	broker := harness.StartBroker(t, harness.BrokerOptions{Topics: []string{topic + ":3"}})
	cfg := harness.WriteConfig(t, dir, "ship.hcl", shipConfigAtDefaults(dir, broker.Addr(), []string{log}, nil))
	all := harness.Lines("gen0", 0, 3000)
	harness.WriteFile(t, log, harness.Text(all))
	tail := startTopicTail(t, broker.Addr(), "")
	p := harness.StartLogpipe(t, "ship", "-c", cfg)
	tail.waitAll(t, 60*time.Second, nil, all)
	for g := 1; g <= 3; g++ {
		old := fileSize(t, log)
		// Each generation's lines are 2 bytes longer, so the old offset falls inside a line.
		ls := harness.Lines(fmt.Sprintf("gen%d%s", g, strings.Repeat("-", 2*g)), 0, 3000+1000*g)
		harness.WriteFile(t, log, harness.Text(ls)) // O_TRUNC + one write
		if size := fileSize(t, log); size <= old {
			t.Fatalf("generation %d: %d bytes, not past the old offset %d", g, size, old)
		}
		all = append(all, ls...)
		tail.waitAll(t, 60*time.Second, nil, all)
	}
	tail.waitSettled(t, 3*time.Second, 60*time.Second, nil, all)
	p.Terminate(t, 30*time.Second)
	evs := harness.ReadEvents(t, broker.Addr(), topic)
	d := harness.CheckDelivery(all, evs)
	multi, example := countMultiIDs(evs)
	t.Logf("%d lines in 4 generations; %d records: %d missing, %d duplicates (%d with the same _id), %d lines under 2+ _ids (first: %s), %d not written (fragments)",
		len(all), len(evs), len(d.Missing), d.Duplicates, d.DuplicatesSameID, multi, example, len(d.Unexpected))
	harness.RequireAllOnce(t, all, evs)
}

// countMultiIDs counts the messages that are in evs under two or more different _ids, and
// describes the first of them in topic order.
func countMultiIDs(evs []harness.Event) (int, string) {
	ids := map[string]map[string]bool{}
	for _, ev := range evs {
		if ids[ev.Message] == nil {
			ids[ev.Message] = map[string]bool{}
		}
		ids[ev.Message][ev.Metadata.ID] = true
	}
	n, example := 0, "none"
	for _, ev := range evs {
		if s := ids[ev.Message]; len(s) > 1 {
			if n == 0 {
				example = fmt.Sprintf("%q under %d ids", ev.Message, len(s))
			}
			n++
			delete(ids, ev.Message)
		}
	}
	return n, example
}
