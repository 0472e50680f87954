package apache

import "testing"

// groupOf, which scanTop uses to mark the groups a document already has, must name
// exactly the groups of groupNames.
func TestGroupOfMatchesGroupNames(t *testing.T) {
	for g := group(0); g < nGroups; g++ {
		if got, ok := groupOf([]byte(groupNames[g])); !ok || got != g {
			t.Errorf("groupOf(%q) = %d, %v; want %d", groupNames[g], got, ok, g)
		}
	}
	for _, name := range []string{"", "message", "@timestamp", "Source", "log ", "events", "user_agen"} {
		if g, ok := groupOf([]byte(name)); ok {
			t.Errorf("groupOf(%q) = %d, want no group", name, g)
		}
	}
}
