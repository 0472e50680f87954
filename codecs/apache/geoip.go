package apache

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/logpipe/logpipe/pipeline"
	"github.com/oschwald/maxminddb-golang/v2"
	"go.uber.org/zap"
)

// GeoIPConfig is the optional geoip block of a filter "apache": MaxMind-format databases
// (GeoLite2/GeoIP2 City or Country, and ASN) used to add source.geo.* and source.as.* the
// way Elasticsearch's geoip processor does in Filebeat's apache pipelines.
type GeoIPConfig struct {
	// CityDatabase is the path of a City (or Country) database; "" for none.
	CityDatabase string `hcl:"city_database,optional"`
	// ASNDatabase is the path of an ASN database; "" for none.
	ASNDatabase string `hcl:"asn_database,optional"`
	// ReloadCheck is how often the files are checked for replacement (geoipupdate renames
	// a new file over the old one); default "10s".
	ReloadCheck string `hcl:"reload_check,optional"`

	reloadEvery time.Duration
}

// DefaultReloadCheck is how often, by default, the database files are checked for
// replacement.
const DefaultReloadCheck = 10 * time.Second

func (g *GeoIPConfig) validate() []error {
	var errs []error
	if g.CityDatabase == "" && g.ASNDatabase == "" {
		errs = append(errs, pipeline.AttrErrorf("geoip.city_database", "a geoip block needs city_database, asn_database or both"))
	}
	g.reloadEvery = DefaultReloadCheck
	if g.ReloadCheck != "" {
		d, err := pipeline.ParseDuration(g.ReloadCheck)
		if err != nil || d <= 0 {
			errs = append(errs, pipeline.AttrErrorf("geoip.reload_check", "must be a positive duration such as \"10s\", got %q", g.ReloadCheck))
		} else {
			g.reloadEvery = d
		}
	}
	return errs
}

// dbKind is what a database file provides.
type dbKind uint8

const (
	kindCity dbKind = iota // City or Country: source.geo
	kindASN                // ASN: source.as
)

// geoDB is one database file, reopened when the file at its path is replaced. It is used
// from one goroutine (the filter's).
type geoDB struct {
	path      string
	kind      dbKind
	reader    *maxminddb.Reader
	id        fileID
	cache     map[uint][]byte // record offset -> encoded members; cleared on reload
	nextCheck time.Time
	log       *zap.Logger
	reloads   int
}

// fileID identifies the file at a path: a rename over it changes the inode.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), uint64(st.Ino)
	}
	return id, nil
}

// openGeoDB opens the database at path and checks that it is of the kind expected. Errors
// name the file and are permanent: a configured database that cannot be used stops the
// start.
func openGeoDB(path string, kind dbKind, log *zap.Logger) (*geoDB, error) {
	db := &geoDB{path: path, kind: kind, log: log}
	r, id, err := db.open()
	if err != nil {
		return nil, pipeline.Permanent(err)
	}
	db.reader, db.id = r, id
	db.cache = make(map[uint][]byte)
	return db, nil
}

func (db *geoDB) attr() string {
	if db.kind == kindASN {
		return "asn_database"
	}
	return "city_database"
}

// open opens the file at db.path and checks its type. The file's identity is returned
// also with an error when the file could be stat'ed, so that a bad file is not retried
// until it is replaced again.
func (db *geoDB) open() (*maxminddb.Reader, fileID, error) {
	id, err := statID(db.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fileID{}, fmt.Errorf("geoip %s %q does not exist: install the database (MaxMind's geoipupdate writes GeoLite2-City.mmdb and GeoLite2-ASN.mmdb) or fix the path: %w", db.attr(), db.path, err)
	}
	if err != nil {
		return nil, fileID{}, fmt.Errorf("geoip %s %q: %w", db.attr(), db.path, err)
	}
	r, err := maxminddb.Open(db.path)
	if err != nil {
		return nil, id, fmt.Errorf("geoip %s %q: not a readable MaxMind database: %w", db.attr(), db.path, err)
	}
	t := r.Metadata.DatabaseType
	ok := false
	switch db.kind {
	case kindCity:
		ok = strings.HasSuffix(t, "-City") || strings.HasSuffix(t, "-Country")
	case kindASN:
		ok = strings.HasSuffix(t, "-ASN")
	}
	if !ok {
		_ = r.Close()
		want := "a City or Country database"
		if db.kind == kindASN {
			want = "an ASN database"
		}
		return nil, id, fmt.Errorf("geoip %s %q: database type %q, want %s", db.attr(), db.path, t, want)
	}
	return r, id, nil
}

// maybeReload reopens the database when the file at its path was replaced, at most once per
// every interval. A replacement that cannot be opened is logged and the old database
// kept; the check is repeated at the next interval.
func (db *geoDB) maybeReload(now time.Time, every time.Duration) {
	if now.Before(db.nextCheck) {
		return
	}
	db.nextCheck = now.Add(every)
	id, err := statID(db.path)
	if err != nil {
		db.log.Warn("geoip database not readable; keeping the loaded one", zap.String("path", db.path), zap.Error(err))
		return
	}
	if id == db.id {
		return
	}
	r, id, err := db.open()
	if err != nil {
		db.log.Warn("geoip database replaced by one that cannot be used; keeping the loaded one",
			zap.String("path", db.path), zap.Error(err))
		db.id = id // retried only once the file is replaced again
		return
	}
	old := db.reader
	db.reader, db.id = r, id
	clear(db.cache)
	db.reloads++
	_ = old.Close() // the filter is the only user, and nothing decoded from it is kept
	db.log.Info("geoip database reloaded", zap.String("path", db.path),
		zap.String("type", r.Metadata.DatabaseType), zap.Time("built", r.Metadata.BuildTime()))
}

// geoCacheSize bounds each database's cache of encoded records.
const geoCacheSize = 8192

// members returns the encoded members for ip (`"city_name":"...",...` without braces), or
// nil when the database has nothing for it.
func (db *geoDB) members(ip netip.Addr) []byte {
	res := db.reader.Lookup(ip)
	if res.Err() != nil || !res.Found() {
		return nil
	}
	off := uint(res.Offset())
	if m, ok := db.cache[off]; ok {
		return m
	}
	var m []byte
	var err error
	if db.kind == kindASN {
		m, err = encodeASN(res)
	} else {
		m, err = encodeCity(res)
	}
	if err != nil {
		db.log.Warn("geoip record cannot be decoded", zap.String("path", db.path), zap.Error(err))
		return nil
	}
	if len(db.cache) >= geoCacheSize {
		clear(db.cache)
	}
	db.cache[off] = m
	return m
}

type names struct {
	En *string `maxminddb:"en"`
}

type cityRecord struct {
	City struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	Continent struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"continent"`
	Country struct {
		IsoCode *string `maxminddb:"iso_code"`
		Names   names   `maxminddb:"names"`
	} `maxminddb:"country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
	Subdivisions []struct {
		IsoCode *string `maxminddb:"iso_code"`
		Names   names   `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
}

// encodeCity writes the default properties of Elasticsearch's geoip processor for a City
// or Country database: continent_name, country_iso_code, country_name, region_iso_code,
// region_name (of the most specific subdivision), city_name, location {lat, lon}; a
// property the record lacks is left out.
func encodeCity(res maxminddb.Result) ([]byte, error) {
	var rec cityRecord
	if err := res.Decode(&rec); err != nil {
		return nil, err
	}
	o := obj{empty: true}
	if rec.Continent.Names.En != nil {
		o.str(`"continent_name":`, []byte(*rec.Continent.Names.En))
	}
	if rec.Country.IsoCode != nil {
		o.str(`"country_iso_code":`, []byte(*rec.Country.IsoCode))
	}
	if rec.Country.Names.En != nil {
		o.str(`"country_name":`, []byte(*rec.Country.Names.En))
	}
	if n := len(rec.Subdivisions); n > 0 {
		sub := rec.Subdivisions[n-1]
		if sub.IsoCode != nil && rec.Country.IsoCode != nil {
			o.str(`"region_iso_code":`, []byte(*rec.Country.IsoCode+"-"+*sub.IsoCode))
		}
		if sub.Names.En != nil {
			o.str(`"region_name":`, []byte(*sub.Names.En))
		}
	}
	if rec.City.Names.En != nil {
		o.str(`"city_name":`, []byte(*rec.City.Names.En))
	}
	if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
		o.open(`"location":`)
		o.key(`"lat":`)
		o.dst = appendDouble(o.dst, *rec.Location.Latitude)
		o.key(`"lon":`)
		o.dst = appendDouble(o.dst, *rec.Location.Longitude)
		o.close()
	}
	return o.dst, nil
}

// appendDouble writes f as Java's Double.toString does for ordinary coordinates: the
// shortest decimal that reads back as f, with at least one digit after the point.
func appendDouble(dst []byte, f float64) []byte {
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[n:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

type asnRecord struct {
	Number *uint64 `maxminddb:"autonomous_system_number"`
	Org    *string `maxminddb:"autonomous_system_organization"`
}

// encodeASN writes number and organization.name (Filebeat renames the processor's asn and
// organization_name to these).
func encodeASN(res maxminddb.Result) ([]byte, error) {
	var rec asnRecord
	if err := res.Decode(&rec); err != nil {
		return nil, err
	}
	o := obj{empty: true}
	if rec.Number != nil {
		o.num(`"number":`, int64(*rec.Number))
	}
	if rec.Org != nil {
		o.open(`"organization":`)
		o.str(`"name":`, []byte(*rec.Org))
		o.close()
	}
	return o.dst, nil
}

// geoIP holds the configured databases.
type geoIP struct {
	city, asn *geoDB
	every     time.Duration
}

func newGeoIP(c *GeoIPConfig, log *zap.Logger) (*geoIP, error) {
	g := &geoIP{every: c.reloadEvery}
	var errs []error
	var err error
	if c.CityDatabase != "" {
		if g.city, err = openGeoDB(c.CityDatabase, kindCity, log); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ASNDatabase != "" {
		if g.asn, err = openGeoDB(c.ASNDatabase, kindASN, log); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		g.close()
		return nil, pipeline.Permanent(errors.Join(errs...))
	}
	return g, nil
}

func (g *geoIP) close() {
	for _, db := range []*geoDB{g.city, g.asn} {
		if db != nil && db.reader != nil {
			_ = db.reader.Close()
		}
	}
}

// check reloads replaced databases (called once per batch).
func (g *geoIP) check(now time.Time) {
	if g.city != nil {
		g.city.maybeReload(now, g.every)
	}
	if g.asn != nil {
		g.asn.maybeReload(now, g.every)
	}
}

// lookup returns the encoded geo and as members for the address text ip, nil for either
// when there is none. Private, loopback, link-local and other non-public addresses get none.
func (g *geoIP) lookup(ip []byte) (geo, as []byte) {
	if len(ip) == 0 {
		return nil, nil
	}
	addr, err := netip.ParseAddr(unsafe.String(&ip[0], len(ip)))
	if err != nil {
		return nil, nil
	}
	addr = addr.Unmap()
	if !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return nil, nil
	}
	if g.city != nil {
		geo = g.city.members(addr)
	}
	if g.asn != nil {
		as = g.asn.members(addr)
	}
	return geo, as
}

// extras carries what a line adds besides its own fields: user agent and geo members, the
// zone of an error line and the original line. Its slices are valid until the next line.
type extras struct {
	ua       []byte // user_agent members, original first (`"original":...,"name":...`)
	geo, as  []byte // members of source.geo and source.as
	zone     Zone
	offset   int    // zone offset of an error line's time
	original []byte // event.original of an error line
}

// appendSource appends the geo and as objects to a source object being written.
func (x *extras) appendSource(o *obj) {
	if len(x.geo) > 0 {
		o.key(`"geo":`)
		o.dst = append(o.dst, '{')
		o.dst = append(o.dst, x.geo...)
		o.dst = append(o.dst, '}')
	}
	if len(x.as) > 0 {
		o.key(`"as":`)
		o.dst = append(o.dst, '{')
		o.dst = append(o.dst, x.as...)
		o.dst = append(o.dst, '}')
	}
}
