package apache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logpipe/logpipe/pipeline"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// sourceRecords reads a MaxMind test database's source JSON: a list of {network: record}.
func sourceRecords(t *testing.T, file string) []struct {
	net netip.Prefix
	rec map[string]any
} {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&list); err != nil {
		t.Fatal(err)
	}
	var out []struct {
		net netip.Prefix
		rec map[string]any
	}
	for _, m := range list {
		for k, v := range m {
			p, err := netip.ParsePrefix(k)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, struct {
				net netip.Prefix
				rec map[string]any
			}{p, v})
		}
	}
	return out
}

func path(m map[string]any, keys ...string) (any, bool) {
	var v any = m
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = o[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// expectedGeo computes, from a source record, the fields Elasticsearch's geoip processor
// writes with its default properties (MaxmindIpDataLookups.City).
func expectedGeo(t *testing.T, rec map[string]any) map[string]string {
	out := map[string]string{}
	set := func(k string, keys ...string) {
		set1(out, k, rec, keys...)
	}
	set("continent_name", "continent", "names", "en")
	set("country_iso_code", "country", "iso_code")
	set("country_name", "country", "names", "en")
	if subs, ok := rec["subdivisions"].([]any); ok && len(subs) > 0 {
		sub := subs[len(subs)-1].(map[string]any)
		iso, okIso := path(sub, "iso_code")
		country, okC := path(rec, "country", "iso_code")
		if okIso && okC {
			out["region_iso_code"] = fmt.Sprint(country) + "-" + fmt.Sprint(iso)
		}
		set1(out, "region_name", sub, "names", "en")
	}
	set("city_name", "city", "names", "en")
	lat, okLat := path(rec, "location", "latitude")
	lon, okLon := path(rec, "location", "longitude")
	if okLat && okLon {
		// Elasticsearch writes Java doubles: 40 becomes 40.0.
		out["location.lat"], out["location.lon"] = javaDouble(t, lat), javaDouble(t, lon)
	}
	return out
}

func javaDouble(t *testing.T, v any) string {
	t.Helper()
	s := fmt.Sprint(v)
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		t.Fatalf("not a number: %v", v)
	}
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

func set1(out map[string]string, k string, m map[string]any, keys ...string) {
	if v, ok := path(m, keys...); ok {
		out[k] = fmt.Sprint(v)
	}
}

func flatMembers(t *testing.T, members []byte) map[string]string {
	t.Helper()
	if members == nil {
		return map[string]string{}
	}
	got := decodeNum(t, append(append([]byte{'{'}, members...), '}'))
	out := map[string]string{}
	for k, v := range got {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// TestGeoIPTestDatabases looks up an address of every network of MaxMind's City and ASN
// test databases and compares the fields with what Elasticsearch's geoip processor derives
// from the record the database was built from.
func TestGeoIPTestDatabases(t *testing.T) {
	c := &GeoIPConfig{CityDatabase: testCityDB, ASNDatabase: testASNDB}
	if errs := c.validate(); errs != nil {
		t.Fatal(errs)
	}
	g, err := newGeoIP(c, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	n := 0
	for _, r := range sourceRecords(t, "testdata/geoip/GeoLite2-City-Test.json") {
		addr := r.net.Masked().Addr()
		if !addr.IsGlobalUnicast() || addr.IsPrivate() {
			continue
		}
		geo, _ := g.lookup([]byte(addr.String()))
		got, want := flatMembers(t, geo), expectedGeo(t, r.rec)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s (%s): got %v, want %v", addr, r.net, got, want)
		}
		n++
	}
	for _, r := range sourceRecords(t, "testdata/geoip/GeoLite2-ASN-Test.json") {
		addr := r.net.Masked().Addr()
		if !addr.IsGlobalUnicast() || addr.IsPrivate() {
			continue
		}
		_, as := g.lookup([]byte(addr.String()))
		want := map[string]string{}
		if v, ok := r.rec["autonomous_system_number"]; ok {
			want["number"] = fmt.Sprint(v)
		}
		if v, ok := r.rec["autonomous_system_organization"]; ok {
			want["organization.name"] = fmt.Sprint(v)
		}
		if got := flatMembers(t, as); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s (%s): got %v, want %v", addr, r.net, got, want)
		}
		n++
	}
	if n < 300 {
		t.Errorf("only %d networks checked", n)
	}
	// The addresses SOURCES.md names.
	for ip, city := range map[string]string{"81.2.69.142": "London", "2.125.160.216": "Boxford", "89.160.20.112": "Linköping"} {
		geo, _ := g.lookup([]byte(ip))
		if got := flatMembers(t, geo)["city_name"]; got != city {
			t.Errorf("%s: city %q, want %q", ip, got, city)
		}
	}
	_, as := g.lookup([]byte("1.128.0.1"))
	if got := flatMembers(t, as); got["number"] != "1221" || got["organization.name"] != "Telstra Pty Ltd" {
		t.Errorf("1.128.0.1: %v", got)
	}
}

// TestGeoIPNonPublic: private, loopback, link-local and unspecified addresses get no geo
// fields, in access and error lines.
func TestGeoIPNonPublic(t *testing.T) {
	c := DefaultConfig()
	c.GeoIP = &GeoIPConfig{CityDatabase: testCityDB, ASNDatabase: testASNDB}
	f := newFilter(t, c)
	for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3", "192.168.33.1", "172.16.0.9", "169.254.1.1", "fe80::1", "fd00::1", "0.0.0.0", "::ffff:10.0.0.1"} {
		for _, line := range []string{
			ip + ` - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`,
			"[Mon Dec 26 16:22:08 2016] [error] [client " + ip + "] x",
		} {
			b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: wireDoc(line, "")}}, nil)
			f.Process(b)
			got := decode(t, b.Events[0].Doc)
			for k := range got {
				if strings.HasPrefix(k, "source.geo") || strings.HasPrefix(k, "source.as") {
					t.Errorf("%s: %s = %v", line, k, got[k])
				}
			}
			if got["source.ip"] != ip {
				t.Errorf("%s: not parsed: %v", line, got)
			}
		}
	}
	// An IPv4-mapped public address is looked up as IPv4.
	geo, _ := f.geo.lookup([]byte("::ffff:81.2.69.142"))
	if flatMembers(t, geo)["city_name"] != "London" {
		t.Errorf("mapped address: %s", geo)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGeoIPReplacedOnDisk: a database renamed over the configured path (as geoipupdate
// does) is used from the next check on, without a restart; a broken replacement is logged
// and the loaded database kept. The check interval is the production default; the filter's
// clock is advanced instead of waiting.
func TestGeoIPReplacedOnDisk(t *testing.T) {
	dir := t.TempDir()
	city := filepath.Join(dir, "GeoLite2-City.mmdb")
	copyFile(t, testCityDB, city)
	c := DefaultConfig()
	c.GeoIP = &GeoIPConfig{CityDatabase: city}
	core, logs := observer.New(zap.InfoLevel)
	f, err := New(c, pipeline.Stage{Log: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f.now = func() time.Time { return now }
	line := `89.160.20.112 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`
	geoOf := func() map[string]any {
		b := pipeline.NewBatch("t/0", []pipeline.Event{{Doc: wireDoc(line, "")}}, nil)
		f.Process(b)
		return decode(t, b.Events[0].Doc)
	}
	if got := geoOf(); got["source.geo.city_name"] != "Linköping" {
		t.Fatalf("before: %v", got)
	}

	// geoipupdate writes a new file next to the old one and renames it over it. The
	// Country database has no city for the address.
	tmp := filepath.Join(dir, "GeoLite2-City.mmdb.tmp")
	copyFile(t, "testdata/geoip/GeoLite2-Country-Test.mmdb", tmp)
	if err := os.Rename(tmp, city); err != nil {
		t.Fatal(err)
	}
	now = now.Add(DefaultReloadCheck / 2)
	if got := geoOf(); got["source.geo.city_name"] != "Linköping" {
		t.Errorf("reloaded before the check interval: %v", got)
	}
	now = now.Add(DefaultReloadCheck)
	got := geoOf()
	if _, ok := got["source.geo.city_name"]; ok || got["source.geo.country_iso_code"] != "SE" {
		t.Errorf("after the replacement: %v", got)
	}
	if f.geo.city.reloads != 1 || logs.FilterMessage("geoip database reloaded").Len() != 1 {
		t.Errorf("%d reloads, logs %v", f.geo.city.reloads, logs.All())
	}

	// A broken replacement keeps the loaded database.
	copyFile(t, "testdata/geoip/GeoLite2-City-Test.json", tmp)
	if err := os.Rename(tmp, city); err != nil {
		t.Fatal(err)
	}
	now = now.Add(DefaultReloadCheck)
	if got := geoOf(); got["source.geo.country_iso_code"] != "SE" {
		t.Errorf("after a broken replacement: %v", got)
	}
	// The bad file is logged once, not at every check.
	now = now.Add(DefaultReloadCheck)
	geoOf()
	if n := logs.FilterMessageSnippet("cannot be used").Len(); n != 1 {
		t.Errorf("the broken replacement was logged %d times", n)
	}
	// And the next good one is picked up.
	copyFile(t, testCityDB, tmp)
	if err := os.Rename(tmp, city); err != nil {
		t.Fatal(err)
	}
	now = now.Add(DefaultReloadCheck)
	if got := geoOf(); got["source.geo.city_name"] != "Linköping" {
		t.Errorf("after a good replacement: %v", got)
	}
}

// TestGeoIPStartErrors: a configured database that is missing, not a MaxMind database or of
// the wrong kind fails New with a permanent error naming the file.
func TestGeoIPStartErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.mmdb")
	notMMDB := filepath.Join(dir, "text.mmdb")
	if err := os.WriteFile(notMMDB, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		g    GeoIPConfig
		file string
	}{
		{GeoIPConfig{CityDatabase: missing}, missing},
		{GeoIPConfig{ASNDatabase: missing}, missing},
		{GeoIPConfig{CityDatabase: notMMDB}, notMMDB},
		{GeoIPConfig{CityDatabase: dir}, dir},
		{GeoIPConfig{CityDatabase: testASNDB}, testASNDB},
		{GeoIPConfig{CityDatabase: testCityDB, ASNDatabase: testCityDB}, testCityDB},
	} {
		c := DefaultConfig()
		g := tc.g
		c.GeoIP = &g
		_, err := New(c, pipeline.Stage{})
		if err == nil || !pipeline.IsPermanent(err) || !strings.Contains(err.Error(), tc.file) {
			t.Errorf("%+v: error %v", tc.g, err)
		} else {
			t.Log(err)
		}
	}
}
