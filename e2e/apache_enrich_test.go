package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/e2e/harness"
)

// apacheDoc is a shipped document (the wire format without @metadata) holding line.
func apacheDoc(line string, n int) []byte {
	msg, _ := json.Marshal(line)
	return []byte(fmt.Sprintf(`{"@timestamp":"2026-11-21T07:16:26.746Z","message":%s,"n":%d,"host":{"name":"web1"}}`, msg, n))
}

func copyTestDB(t *testing.T, name, dst string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "codecs", "apache", "testdata", "geoip", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flatDocs returns the stored documents flattened ("source.geo.city_name"), by their "n".
func (e *indexEnv) flatDocs() map[int]map[string]any {
	out := map[int]map[string]any{}
	for _, d := range e.es.Documents() {
		var v map[string]any
		if json.Unmarshal(d.Source, &v) != nil {
			continue
		}
		flat := map[string]any{}
		var walk func(string, any)
		walk = func(p string, x any) {
			if m, ok := x.(map[string]any); ok {
				for k, y := range m {
					if p != "" {
						k = p + "." + k
					}
					walk(k, y)
				}
				return
			}
			flat[p] = x
		}
		walk("", v)
		if n, ok := flat["n"].(float64); ok {
			out[int(n)] = flat
		}
	}
	return out
}

// TestIndexApacheEnrichment runs `logpipe index` with the apache filter, user agents and
// GeoIP (MaxMind's test databases), over access and error_log lines, then replaces the City
// database on disk as geoipupdate does (a rename over it) while the indexer runs: later
// events use the new database, without a restart. The reload check runs at its default
// interval.
func TestIndexApacheEnrichment(t *testing.T) {
	dbDir := t.TempDir()
	city := filepath.Join(dbDir, "GeoLite2-City.mmdb")
	asn := filepath.Join(dbDir, "GeoLite2-ASN.mmdb")
	copyTestDB(t, "GeoLite2-City-Test.mmdb", city)
	copyTestDB(t, "GeoLite2-ASN-Test.mmdb", asn)
	filter := fmt.Sprintf(`filter "apache" "access" {
  timezone = "-02:00"
  geoip {
    city_database = %q
    asn_database  = %q
  }
}`, city, asn)
	// The template is not installed: the test server does not model geo_point fields.
	e := newIndexEnv(t, filter, "", "manage_template = false")
	p := e.index()
	defer p.Terminate(t, 30*time.Second)

	access := `89.160.20.112 - - [26/Dec/2016:18:23:35 +0200] "GET / HTTP/1.1" 200 45 "-" "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2"`
	errLine := "[Thu Jun 27 06:58:09.169510 2019] [include:warn] [pid 15934] [client 67.43.156.12:12345] AH01374: mod_include: Options +Includes wasn't set: /test.html"
	e.produce(0, [][]byte{apacheDoc(access, 1), apacheDoc(errLine, 2)})
	var docs map[int]map[string]any
	harness.WaitFor(t, 60*time.Second, "2 documents", func() bool {
		docs = e.flatDocs()
		return len(docs) >= 2
	})
	for n, want := range map[int]map[string]any{
		1: {"@timestamp": "2016-12-26T16:23:35.000Z", "source.geo.city_name": "Linköping", "source.geo.region_iso_code": "SE-E",
			"source.geo.location.lat": 58.4167, "source.as.number": float64(29518), "source.as.organization.name": "Bredband2 AB",
			"user_agent.name": "Firefox Alpha", "user_agent.version": "15.0.a2", "user_agent.os.full": "Windows 7",
			"user_agent.device.name": "Other", "event.dataset": "apache.access"},
		2: {"@timestamp": "2019-06-27T06:58:09.169-02:00", "event.dataset": "apache.error", "log.level": "warn",
			"apache.error.module": "include", "process.pid": float64(15934), "source.port": "12345", "event.type": "error",
			"source.geo.country_iso_code": "BT", "source.as.number": float64(35908), "event.timezone": "-02:00",
			"message": "AH01374: mod_include: Options +Includes wasn't set: /test.html"},
	} {
		for k, v := range want {
			if fmt.Sprint(docs[n][k]) != fmt.Sprint(v) {
				t.Errorf("doc %d: %s = %v, want %v", n, k, docs[n][k], v)
			}
		}
	}
	if idx := e.es.Indices(); !strings.Contains(strings.Join(idx, ","), "filebeat_test-2016.12.26") ||
		!strings.Contains(strings.Join(idx, ","), "filebeat_test-2019.06.27") {
		t.Errorf("indices %v: events are routed by the time of the line", idx)
	}

	// geoipupdate: a new file next to the old one, renamed over it. The Country database
	// has no city for the address.
	tmp := city + ".tmp"
	copyTestDB(t, "GeoLite2-Country-Test.mmdb", tmp)
	if err := os.Rename(tmp, city); err != nil {
		t.Fatal(err)
	}
	n := 3
	harness.WaitEvery(t, 90*time.Second, time.Second, "an event enriched from the replaced database", func() bool {
		e.produce(0, [][]byte{apacheDoc(access, n)})
		n++
		for i, d := range e.flatDocs() {
			if i >= 3 && d["source.geo.country_iso_code"] == "SE" && d["source.geo.city_name"] == nil {
				return true
			}
		}
		return false
	})
	if !strings.Contains(p.Log(), "geoip database reloaded") {
		t.Errorf("no reload logged:\n%s", p.Log())
	}
}

// TestIndexApacheMissingDatabase: a configured GeoIP database that does not exist stops
// `logpipe index` at start with an error naming the file.
func TestIndexApacheMissingDatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "GeoLite2-City.mmdb")
	e := newIndexEnv(t, fmt.Sprintf(`filter "apache" "access" {
  geoip {
    city_database = %q
  }
}`, missing), "", "")
	code, out := harness.RunLogpipe(t, 60*time.Second, "index", "-c", e.config)
	if code == 0 || !strings.Contains(out, missing) || !strings.Contains(out, "does not exist") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
	t.Logf("exit %d: %s", code, out)
}
