package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestAgentIDStable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "ship") // created on first run
	a1, err := newAgent(dir, "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := newAgent(dir, "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if !isUUID(a1.ID) || a1.ID != a2.ID {
		t.Errorf("agent id not stable: %q then %q", a1.ID, a2.ID)
	}
	if !isUUID(a1.EphemeralID) || a1.EphemeralID == a2.EphemeralID || a1.EphemeralID == a1.ID {
		t.Errorf("ephemeral ids %q, %q (id %q)", a1.EphemeralID, a2.EphemeralID, a1.ID)
	}
	host, _ := os.Hostname()
	if a1.Hostname != host || a1.Version != "1.2.3" {
		t.Errorf("agent %+v", a1)
	}
	b, err := os.ReadFile(filepath.Join(dir, agentIDFile))
	if err != nil || string(b) != a1.ID+"\n" {
		t.Errorf("agent.id holds %q, %v", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left in data_dir: %v", entries)
	}
}

// Processes starting at once on a fresh data_dir agree on one id.
func TestAgentIDConcurrentFirstRun(t *testing.T) {
	dir := t.TempDir()
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, err := loadOrCreateAgentID(dir)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("ids differ: %q", ids)
		}
	}
}

func TestAgentIDCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, agentIDFile), []byte("not-a-uuid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newAgent(dir, "v"); err == nil || !strings.Contains(err.Error(), "remove the file") {
		t.Errorf("got %v", err)
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		u, err := newUUID()
		if err != nil || !isUUID(u) || u[14] != '4' || !strings.ContainsRune("89ab", rune(u[19])) || seen[u] {
			t.Fatalf("bad uuid %q (%v)", u, err)
		}
		seen[u] = true
	}
	for _, s := range []string{"", "0123456789abcdef0123456789abcdef", "0123456-89ab-cdef-0123-456789abcdef0", "g1234567-89ab-cdef-0123-456789abcdef"} {
		if isUUID(s) {
			t.Errorf("isUUID(%q)", s)
		}
	}
}
