package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// SIGTERM drains and commits: exit code 0, the registry holds the end of the file, and a
// restart sends nothing twice. The events carry the wire format of DESIGN.md section 3.
func TestShipSIGTERMCommitsAndResumes(t *testing.T) {
	t.Parallel()
	e := newShipEnv(t, "")
	first := harness.Lines("first", 0, 500)
	harness.WriteFile(t, e.path("access.log"), harness.Text(first))
	p := e.ship()
	e.waitEvents(500, 30*time.Second)
	more := harness.Lines("more", 0, 500)
	harness.AppendFile(t, e.path("access.log"), harness.Text(more))
	e.waitEvents(1000, 30*time.Second)
	p.Terminate(t, 30*time.Second)

	if off, size := e.registryOffsets()[e.path("access.log")], fileSize(t, e.path("access.log")); off != size {
		t.Fatalf("registry offset %d after SIGTERM, want the file size %d", off, size)
	}

	// Restart: only the new lines are sent.
	p = e.ship()
	last := harness.Lines("after-restart", 0, 10)
	harness.AppendFile(t, e.path("access.log"), harness.Text(last))
	e.waitEvents(1010, 30*time.Second)
	p.Terminate(t, 30*time.Second)
	evs := e.events()
	all := append(append(append([]string{}, first...), more...), last...)
	harness.RequireAllOnce(t, all, evs)

	// The wire format.
	var ev harness.Event
	for _, x := range evs {
		if x.Message == first[0] {
			ev = x
		}
	}
	if ev.Log.Offset != 0 || ev.Log.File.Path != e.path("access.log") || ev.Metadata.ID == "" ||
		ev.Metadata.Beat != "logpipe" || len(ev.Log.File.Fingerprint) != 64 || ev.Host.Name == "" ||
		!strings.HasSuffix(ev.Timestamp, "Z") {
		t.Fatalf("first event does not follow the wire format: %s", ev.Raw)
	}
	ids := map[string]bool{}
	for _, x := range evs {
		if ids[x.Metadata.ID] {
			t.Fatalf("two different lines share the id %s", x.Metadata.ID)
		}
		ids[x.Metadata.ID] = true
	}
}
