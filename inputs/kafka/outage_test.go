package kafka

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// An outage is logged once when it starts, then at debug level, with a reminder every 30 s
// (a fake clock: the reminder interval is the production one), and one line when every
// key succeeds again; the next failure starts a new outage.
func TestOutageLoggedOnceWithReminderAndRecovery(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	o := newOutage(zap.New(core), zapcore.WarnLevel, "fetching")
	now := time.Unix(1000, 0)
	o.now = func() time.Time { return now }
	boom := errors.New("connection refused")
	warns := func() int { return logs.FilterLevelExact(zapcore.WarnLevel).Len() }

	for i := 0; i < 64; i++ { // every partition of a cluster that went down
		o.fail(string(rune('a'+i%26))+"/x", boom)
	}
	if warns() != 1 {
		t.Fatalf("%d warnings for one outage, want 1", warns())
	}
	now = now.Add(29 * time.Second)
	o.fail("a/x", boom)
	if warns() != 1 {
		t.Fatalf("reminded before 30 s")
	}
	now = now.Add(2 * time.Second)
	o.fail("a/x", boom)
	if warns() != 2 || logs.FilterMessageSnippet("still failing").Len() != 1 {
		t.Fatalf("no reminder after 31 s: %d warnings", warns())
	}
	for i := 0; i < 25; i++ {
		o.ok(string(rune('a'+i)) + "/x")
	}
	if logs.FilterMessageSnippet("succeeds again").Len() != 0 {
		t.Fatal("recovery logged while a key still fails")
	}
	o.ok("z/x")
	if n := logs.FilterMessageSnippet("succeeds again").Len(); n != 1 {
		t.Fatalf("recovery logged %d times, want once", n)
	}
	o.ok("z/x")
	o.fail("a/x", boom)
	if warns() != 3 {
		t.Fatalf("a new outage was not logged")
	}
}
