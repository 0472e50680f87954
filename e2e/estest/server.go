// Package estest is an in-process stand-in for an Elasticsearch 8.x node, for tests.
//
// It follows the public REST API specification of the endpoints a log shipper uses, not the
// code of any client:
//
//   - POST|PUT /_bulk and /<index>/_bulk: NDJSON body (Content-Type application/x-ndjson or
//     application/json, or their vnd.elasticsearch+ compatible-with=8 forms, optionally gzip
//     encoded) that must end with a newline; actions index, create, update and delete with
//     _index and _id; the answer {"took","errors","items":[...]} lists one item per action in
//     request order, each with _index, _id, _version, result, _shards, _seq_no,
//     _primary_term and status, or status and error {type, reason, index_uuid, shard, index}.
//     Every action but delete creates a missing index; a delete is 404 with result not_found
//     for a missing document and 404 index_not_found_exception for a missing index, an
//     update of a missing document (without upsert) 404 document_missing_exception.
//     create on an existing _id is 409 version_conflict_engine_exception; a document that does
//     not fit the index mapping is 400 document_parsing_exception; an invalid index name is
//     400 invalid_index_name_exception. A malformed action line rejects the whole request
//     with 400 illegal_argument_exception (or x_content_parse_exception for broken JSON), as
//     does a body without its final newline. Ids are generated when absent (20 characters,
//     URL-safe base64, like Elasticsearch's time-based ids).
//   - GET / (node info, version 8.x), GET /_cluster/health, PUT|GET|HEAD|DELETE
//     /_index_template/<name>, GET /<index>/_count, GET /<index>/_doc/<id>, POST /<index>/_refresh.
//   - Every answer carries X-Elastic-Product: Elasticsearch, which the official clients check.
//   - Mappings: explicit mappings come from matching composable index templates
//     (template.mappings.properties, dynamic_templates with match_mapping_type "string",
//     date_detection) and from MapField; other fields are mapped dynamically on first sight
//     (long, float, boolean, date when date_detection is on, text otherwise). Values are
//     coerced as Elasticsearch does (numeric strings into long fields, numbers into keyword).
//   - A body above the http.max_content_length limit (default 100mb) is answered 413.
//   - Optional security: basic auth or an API key; missing or wrong credentials give 401
//     security_exception. SetWritesDenied takes the write privileges on some indices away from
//     the user: their _bulk items are answered 403 security_exception ("action [...] is
//     unauthorized for user [...] ... this action is granted by the index privileges [...]"),
//     while the request as a whole is 200, as Elasticsearch authorizes bulk items one by one.
//   - Index blocks (SetIndexBlock): index.blocks.write and index.blocks.read_only answer items
//     of an existing index 403 cluster_block_exception, read_only_allow_delete (the disk
//     flood-stage block) 429 cluster_block_exception.
//   - Ingest pipelines: PUT|GET|DELETE /_ingest/pipeline/<id> (or AddPipeline); the pipeline
//     query parameter of _bulk and the pipeline parameter of an action choose one ("_none":
//     none). A pipeline that does not exist fails the item with 400 illegal_argument_exception
//     "pipeline with id [<id>] does not exist". Pipelines are not run: the server records the
//     pipeline of each document (Document.Pipeline).
//
// Fault injection for tests: SetWritesDenied, SetIndexBlock, RejectItems (a fraction of items answered 429
// es_rejected_execution_exception), FailRequests (whole _bulk requests answered 429 or 503),
// SetDown (connection refused, then up again on the same address), SetHangUp (connections
// accepted and closed without an answer), SetLatency, MapField and SetMaxContentLength.
//
// Queries for tests: Documents, Doc, Count, Indices, Template, Stats.
package estest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version is the Elasticsearch version the server reports.
const Version = "8.15.3"

// DefaultMaxContentLength is Elasticsearch's default http.max_content_length (100mb).
const DefaultMaxContentLength = 100 << 20

// Options configure a Server. The zero value is usable.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// MaxContentLength is http.max_content_length; default 100mb.
	MaxContentLength int
	// Username and Password, when set, are required as basic auth (unless APIKey matches).
	Username, Password string
	// APIKey, when set, is the accepted "Authorization: ApiKey <APIKey>" value (the base64
	// of id:key).
	APIKey string
	// Seed makes item rejection reproducible; 0 picks a random seed.
	Seed uint64
	// ClusterName is reported by GET / and /_cluster/health; default "estest".
	ClusterName string
}

// Document is one stored document.
type Document struct {
	Index   string
	ID      string
	Source  json.RawMessage
	Version int64
	SeqNo   int64
	// Pipeline is the ingest pipeline the document went through ("" for none).
	Pipeline string
}

// Stats counts what the server did.
type Stats struct {
	Requests       int // every HTTP request answered (not counting hang-ups)
	BulkRequests   int // _bulk requests that reached item processing
	Items          int // items processed
	Created        int // items answered 201
	Conflicts      int // items answered 409
	Rejected       int // items answered 429 by RejectItems
	ParseFailures  int // items answered 400 document_parsing_exception
	FailedRequests int // whole requests answered by FailRequests
	TooLarge       int // requests answered 413
	Denied         int // items answered 403 security_exception (SetWritesDenied)
	Blocked        int // items answered cluster_block_exception (SetIndexBlock)
	HungUp         int // connections closed by SetHangUp
}

type index struct {
	name    string
	uuid    string
	docs    map[string]*Document
	seq     int64
	mapping *mapping
}

// Server is the Elasticsearch stand-in. Its methods are safe for concurrent use.
type Server struct {
	opts Options

	mu         sync.Mutex
	indices    map[string]*index
	templates  map[string]json.RawMessage
	tmplParsed map[string]*template
	fields     map[string]string // MapField: dotted path -> type, for every index
	denied     map[string]bool   // SetWritesDenied: index patterns without write privileges
	blocks     map[string]string // SetIndexBlock: index pattern -> block
	pipelines  map[string]json.RawMessage
	rejectFrac float64
	rng        *mrand.Rand
	failStatus int
	failLeft   int // <0: until cleared
	hangUp     bool
	latency    time.Duration
	maxContent int
	stats      Stats
	idSeq      uint64

	addr   string
	ln     net.Listener
	srv    *http.Server
	down   bool
	closed bool
	conns  map[net.Conn]struct{}
}

// New returns a server that is not yet listening; call Start.
func New(opts Options) *Server {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.MaxContentLength <= 0 {
		opts.MaxContentLength = DefaultMaxContentLength
	}
	if opts.ClusterName == "" {
		opts.ClusterName = "estest"
	}
	seed := opts.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	return &Server{
		opts:       opts,
		indices:    map[string]*index{},
		templates:  map[string]json.RawMessage{},
		tmplParsed: map[string]*template{},
		fields:     map[string]string{},
		denied:     map[string]bool{},
		blocks:     map[string]string{},
		pipelines:  map[string]json.RawMessage{},
		rng:        mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		maxContent: opts.MaxContentLength,
		conns:      map[net.Conn]struct{}{},
	}
}

// Start listens on Options.Addr and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("estest: listen: %w", err)
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.mu.Unlock()
	s.serve(ln)
	return nil
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, st http.ConnState) {
			s.mu.Lock()
			defer s.mu.Unlock()
			switch st {
			case http.StateNew:
				s.conns[c] = struct{}{}
			case http.StateClosed, http.StateHijacked:
				delete(s.conns, c)
			}
		},
	}
	s.mu.Lock()
	s.ln, s.srv = ln, srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is "http://" + Addr.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Close stops the server and closes every connection.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	srv := s.srv
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// SetDown(true) stops listening and closes every open connection, so clients get
// "connection refused"; SetDown(false) listens again on the same address.
func (s *Server) SetDown(down bool) error {
	s.mu.Lock()
	if s.closed || s.down == down {
		s.mu.Unlock()
		return nil
	}
	s.down = down
	srv, addr := s.srv, s.addr
	s.mu.Unlock()
	if down {
		if srv != nil {
			_ = srv.Close()
		}
		return nil
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly after close
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("estest: listen again on %s: %w", addr, err)
	}
	s.serve(ln)
	return nil
}

// SetHangUp makes the server accept requests and close their connection without any answer
// (on) or answer normally again (off).
func (s *Server) SetHangUp(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangUp = on
}

// RejectItems answers the given fraction (0..1) of bulk items with 429
// es_rejected_execution_exception, chosen at random (see Options.Seed).
func (s *Server) RejectItems(fraction float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectFrac = fraction
}

// FailRequests answers the next n _bulk requests as a whole with status (429
// es_rejected_execution_exception, 503 unavailable_shards_exception, or any other status);
// n < 0 fails them until FailRequests(0, 0) is called.
func (s *Server) FailRequests(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failLeft = status, n
}

// SetWritesDenied takes the privileges to write to (and auto-create) the indices matching
// pattern (a name, "*" wildcards, comma-separated) away from the user (denied true), or
// gives them back. Items of a _bulk request that target those indices are answered 403
// security_exception; the request itself is answered 200, as Elasticsearch does.
func (s *Server) SetWritesDenied(pattern string, denied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if denied {
		s.denied[pattern] = true
	} else {
		delete(s.denied, pattern)
	}
}

// SetIndexBlock sets an index block on the existing indices matching pattern: "write"
// (index.blocks.write), "read_only" (index.blocks.read_only), "read_only_allow_delete" (the
// block the disk flood-stage watermark sets), or "" to remove it.
func (s *Server) SetIndexBlock(pattern, block string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if block == "" {
		delete(s.blocks, pattern)
	} else {
		s.blocks[pattern] = block
	}
}

// AddPipeline creates (or replaces) an ingest pipeline, as PUT /_ingest/pipeline/<id> does.
func (s *Server) AddPipeline(id string, body json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(body) == 0 {
		body = json.RawMessage(`{"processors":[]}`)
	}
	s.pipelines[id] = append(json.RawMessage(nil), body...)
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetMaxContentLength sets http.max_content_length.
func (s *Server) SetMaxContentLength(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxContent = n
}

// MapField maps a dotted field path (e.g. "http.response.status_code") to a type (long,
// integer, short, byte, float, double, boolean, keyword, text, date, ip, object) in every
// index, as an explicit mapping would. It takes precedence over templates.
func (s *Server) MapField(path, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fields[path] = typ
	for _, ix := range s.indices {
		ix.mapping.set(path, typ)
	}
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Indices lists the names of the existing indices, sorted.
func (s *Server) Indices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.indices))
	for n := range s.indices {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Count is the number of documents in index; "" counts every index.
func (s *Server) Count(idx string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if idx == "" {
		n := 0
		for _, ix := range s.indices {
			n += len(ix.docs)
		}
		return n
	}
	if ix := s.indices[idx]; ix != nil {
		return len(ix.docs)
	}
	return 0
}

// Doc returns a copy of the source of one document.
func (s *Server) Doc(idx, id string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix := s.indices[idx]; ix != nil {
		if d := ix.docs[id]; d != nil {
			return append(json.RawMessage(nil), d.Source...), true
		}
	}
	return nil, false
}

// Documents returns copies of every document of every index, ordered by index and _seq_no.
func (s *Server) Documents() []Document {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Document
	for _, ix := range s.indices {
		for _, d := range ix.docs {
			c := *d
			c.Source = append(json.RawMessage(nil), d.Source...)
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Index != out[j].Index {
			return out[i].Index < out[j].Index
		}
		return out[i].SeqNo < out[j].SeqNo
	})
	return out
}

// Template returns the body of an installed index template.
func (s *Server) Template(name string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.templates[name]
	return append(json.RawMessage(nil), b...), ok
}

// ---- HTTP ----

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	hang, lat := s.hangUp, s.latency
	if hang {
		s.stats.HungUp++
	} else {
		s.stats.Requests++
	}
	s.mu.Unlock()
	if hang {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection without an answer
	}
	if lat > 0 {
		select {
		case <-time.After(lat):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
		w.Header().Add("WWW-Authenticate", "ApiKey")
		writeError(w, http.StatusUnauthorized, "security_exception",
			"missing authentication credentials for REST request ["+r.URL.RequestURI()+"]")
		return
	}
	path := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(path, "/")
	if path == "" {
		parts = nil
	}
	switch {
	case len(parts) == 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.info(w)
	case len(parts) >= 1 && parts[len(parts)-1] == "_bulk" && len(parts) <= 2 &&
		(r.Method == http.MethodPost || r.Method == http.MethodPut):
		defIndex := ""
		if len(parts) == 2 {
			defIndex = parts[0]
		}
		s.bulk(w, r, defIndex)
	case len(parts) == 2 && parts[0] == "_cluster" && parts[1] == "health" && r.Method == http.MethodGet:
		s.health(w)
	case len(parts) == 2 && parts[0] == "_index_template":
		s.indexTemplate(w, r, parts[1])
	case len(parts) == 3 && parts[0] == "_ingest" && parts[1] == "pipeline":
		s.ingestPipeline(w, r, parts[2])
	case len(parts) == 2 && parts[1] == "_count" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		s.count(w, parts[0])
	case len(parts) == 2 && parts[1] == "_refresh" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		writeJSON(w, http.StatusOK, map[string]any{"_shards": map[string]int{"total": 2, "successful": 1, "failed": 0}})
	case len(parts) == 3 && parts[1] == "_doc" && r.Method == http.MethodGet:
		s.getDoc(w, parts[0], parts[2])
	default:
		writeError(w, http.StatusMethodNotAllowed, "illegal_argument_exception", fmt.Sprintf(
			"Incorrect HTTP method for uri [%s] and method [%s]", r.URL.RequestURI(), r.Method))
	}
}

// principal names the authenticated user in security messages, as Elasticsearch does.
func (s *Server) principal(r *http.Request) string {
	if u, _, ok := r.BasicAuth(); ok && u != "" {
		return "user [" + u + "]"
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "ApiKey ") {
		id := "estest-key"
		if raw, err := base64.StdEncoding.DecodeString(h[7:]); err == nil {
			if i := bytes.IndexByte(raw, ':'); i > 0 {
				id = string(raw[:i])
			}
		}
		return "API key id [" + id + "] of user [estest]"
	}
	return "user [_anonymous]"
}

func (s *Server) ingestPipeline(w http.ResponseWriter, r *http.Request, id string) {
	switch r.Method {
	case http.MethodPut:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		var p struct {
			Processors json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			writeError(w, http.StatusBadRequest, "x_content_parse_exception", "[1:1] [pipeline] failed to parse: "+err.Error())
			return
		}
		if len(p.Processors) == 0 {
			writeError(w, http.StatusBadRequest, "parse_exception", "[processors] required property is missing")
			return
		}
		s.AddPipeline(id, body)
		writeJSON(w, http.StatusOK, map[string]bool{"acknowledged": true})
	case http.MethodGet:
		s.mu.Lock()
		body, ok := s.pipelines[id]
		s.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{%s:%s}`, jsonString(id), body)
	case http.MethodDelete:
		s.mu.Lock()
		_, ok := s.pipelines[id]
		delete(s.pipelines, id)
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "resource_not_found_exception", "pipeline ["+id+"] is missing")
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"acknowledged": true})
	default:
		writeError(w, http.StatusMethodNotAllowed, "illegal_argument_exception",
			"Incorrect HTTP method for uri ["+r.URL.RequestURI()+"] and method ["+r.Method+"]")
	}
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Username == "" && s.opts.APIKey == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	if s.opts.APIKey != "" && len(h) > 7 && strings.EqualFold(h[:7], "ApiKey ") && h[7:] == s.opts.APIKey {
		return true
	}
	if s.opts.Username != "" {
		u, p, ok := r.BasicAuth()
		return ok && u == s.opts.Username && p == s.opts.Password
	}
	return false
}

func (s *Server) info(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name":         "estest-node-1",
		"cluster_name": s.opts.ClusterName,
		"cluster_uuid": "estestclusteruuid00001",
		"version": map[string]any{
			"number":                              Version,
			"build_flavor":                        "default",
			"build_type":                          "tar",
			"build_hash":                          "0000000000000000000000000000000000000000",
			"build_date":                          "2024-10-11T22:07:42.345660473Z",
			"build_snapshot":                      false,
			"lucene_version":                      "9.11.1",
			"minimum_wire_compatibility_version":  "7.17.0",
			"minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "You Know, for Search",
	})
}

func (s *Server) health(w http.ResponseWriter) {
	s.mu.Lock()
	n := len(s.indices)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"cluster_name": s.opts.ClusterName, "status": "green", "timed_out": false,
		"number_of_nodes": 1, "number_of_data_nodes": 1,
		"active_primary_shards": n, "active_shards": n, "relocating_shards": 0,
		"initializing_shards": 0, "unassigned_shards": 0, "delayed_unassigned_shards": 0,
		"number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
		"task_max_waiting_in_queue_millis": 0, "active_shards_percent_as_number": 100.0,
	})
}

func (s *Server) count(w http.ResponseWriter, idx string) {
	s.mu.Lock()
	var n int
	found := false
	for name, ix := range s.indices {
		if matchPattern(idx, name) {
			n += len(ix.docs)
			found = true
		}
	}
	s.mu.Unlock()
	if !found && !strings.ContainsAny(idx, "*,") && idx != "_all" {
		writeIndexNotFound(w, idx)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": n,
		"_shards": map[string]int{"total": 1, "successful": 1, "skipped": 0, "failed": 0}})
}

func (s *Server) getDoc(w http.ResponseWriter, idx, id string) {
	s.mu.Lock()
	ix := s.indices[idx]
	var d *Document
	if ix != nil {
		d = ix.docs[id]
	}
	var body []byte
	if d != nil {
		body = fmt.Appendf(nil, `{"_index":%q,"_id":%s,"_version":%d,"_seq_no":%d,"_primary_term":1,"found":true,"_source":%s}`,
			idx, jsonString(id), d.Version, d.SeqNo, d.Source)
	}
	s.mu.Unlock()
	if ix == nil {
		writeIndexNotFound(w, idx)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if d == nil {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"_index":%q,"_id":%s,"found":false}`, idx, jsonString(id))
		return
	}
	_, _ = w.Write(body)
}

func (s *Server) indexTemplate(w http.ResponseWriter, r *http.Request, name string) {
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		var t struct {
			IndexPatterns json.RawMessage `json:"index_patterns"`
		}
		if err := json.Unmarshal(body, &t); err != nil {
			writeError(w, http.StatusBadRequest, "x_content_parse_exception", "[1:1] [index_template] failed to parse: "+err.Error())
			return
		}
		if len(t.IndexPatterns) == 0 {
			writeError(w, http.StatusBadRequest, "action_request_validation_exception",
				"Validation Failed: 1: index patterns are missing;")
			return
		}
		tp, err := parseTemplate(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "mapper_parsing_exception", err.Error())
			return
		}
		s.mu.Lock()
		_, exists := s.templates[name]
		if r.URL.Query().Get("create") == "true" && exists {
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, "illegal_argument_exception",
				"index template ["+name+"] already exists")
			return
		}
		s.templates[name] = append(json.RawMessage(nil), body...)
		s.tmplParsed[name] = tp
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]bool{"acknowledged": true})
	case http.MethodGet, http.MethodHead:
		s.mu.Lock()
		body, ok := s.templates[name]
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "resource_not_found_exception",
				"index template matching ["+name+"] not found")
			return
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"index_templates":[{"name":%s,"index_template":%s}]}`, jsonString(name), body)
	case http.MethodDelete:
		s.mu.Lock()
		_, ok := s.templates[name]
		delete(s.templates, name)
		delete(s.tmplParsed, name)
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "resource_not_found_exception",
				"index_template matching ["+name+"] not found")
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"acknowledged": true})
	default:
		writeError(w, http.StatusMethodNotAllowed, "illegal_argument_exception",
			"Incorrect HTTP method for uri ["+r.URL.RequestURI()+"] and method ["+r.Method+"]")
	}
}

// ---- _bulk ----

var bulkContentTypes = []string{
	"application/x-ndjson", "application/json",
	"application/vnd.elasticsearch+x-ndjson", "application/vnd.elasticsearch+json",
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request, defIndex string) {
	start := time.Now()
	ct := r.Header.Get("Content-Type")
	mt := strings.TrimSpace(strings.ToLower(strings.SplitN(ct, ";", 2)[0]))
	okCT := false
	for _, c := range bulkContentTypes {
		okCT = okCT || mt == c
	}
	if !okCT {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotAcceptable)
		fmt.Fprintf(w, `{"error":%s,"status":406}`, jsonString("Content-Type header ["+ct+"] is not supported"))
		return
	}
	s.mu.Lock()
	limit := s.maxContent
	s.mu.Unlock()
	if r.ContentLength > int64(limit) {
		s.tooLarge(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return
	}
	if len(body) > limit {
		s.tooLarge(w)
		return
	}
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(zr, int64(limit)+1))
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "illegal_argument_exception", "invalid gzip body: "+err.Error())
			return
		}
		if len(body) > limit {
			s.tooLarge(w)
			return
		}
	}

	s.mu.Lock()
	if s.failLeft != 0 {
		if s.failLeft > 0 {
			s.failLeft--
		}
		st := s.failStatus
		s.stats.FailedRequests++
		s.mu.Unlock()
		switch st {
		case http.StatusTooManyRequests:
			writeError(w, st, "es_rejected_execution_exception",
				"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes="+
					strconv.Itoa(len(body))+", max_coordinating_and_primary_bytes=0]")
		case http.StatusServiceUnavailable:
			writeError(w, st, "unavailable_shards_exception",
				"[estest][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest]")
		default:
			writeError(w, st, "exception", "injected failure")
		}
		return
	}
	s.mu.Unlock()

	ops, perr := parseBulk(body, defIndex)
	if perr == nil {
		defPipeline := r.URL.Query().Get("pipeline")
		for i := range ops {
			if !ops[i].hasPipeline {
				ops[i].pipeline = defPipeline
			}
		}
	}
	if perr != nil {
		writeError(w, http.StatusBadRequest, perr.typ, perr.reason)
		return
	}

	items := make([]byte, 0, len(ops)*200)
	anyErr := false
	who := s.principal(r)
	s.mu.Lock()
	s.stats.BulkRequests++
	for i := range ops {
		if i > 0 {
			items = append(items, ',')
		}
		var failed bool
		items, failed = s.apply(items, &ops[i], who)
		anyErr = anyErr || failed
	}
	s.mu.Unlock()
	out := make([]byte, 0, len(items)+64)
	out = append(out, `{"took":`...)
	out = strconv.AppendInt(out, time.Since(start).Milliseconds(), 10)
	out = append(out, `,"errors":`...)
	out = strconv.AppendBool(out, anyErr)
	out = append(out, `,"items":[`...)
	out = append(out, items...)
	out = append(out, "]}"...)
	if fp := r.URL.Query().Get("filter_path"); fp != "" {
		out = FilterPath(out, fp)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	s.mu.Lock()
	s.stats.TooLarge++
	s.mu.Unlock()
	// Elasticsearch answers an oversized body with a bare 413 and closes the connection.
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
}

type bulkOp struct {
	action string // index | create | update | delete
	index  string
	id     string
	line   int // 1-based line of the action, for messages
	source []byte
	// indexErr is an invalid_index_name_exception reason, answered per item.
	indexErr string
	// pipeline is the ingest pipeline of the action, or of the request when the action
	// names none (hasPipeline false).
	pipeline    string
	hasPipeline bool
}

type parseError struct{ typ, reason string }

var knownParams = map[string]bool{
	"_index": true, "_id": true, "routing": true, "pipeline": true, "require_alias": true,
	"require_data_stream": true, "if_seq_no": true, "if_primary_term": true, "version": true,
	"version_type": true, "op_type": true, "retry_on_conflict": true, "dynamic_templates": true,
	"list_executed_pipelines": true, "_source": true,
}

func parseBulk(body []byte, defIndex string) ([]bulkOp, *parseError) {
	if len(body) == 0 {
		return nil, &parseError{"action_request_validation_exception", "Validation Failed: 1: no requests added;"}
	}
	if body[len(body)-1] != '\n' {
		return nil, &parseError{"illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]"}
	}
	var ops []bulkOp
	line := 0
	rest := body
	next := func() ([]byte, bool) {
		if len(rest) == 0 {
			return nil, false
		}
		i := bytes.IndexByte(rest, '\n')
		l := rest[:i]
		rest = rest[i+1:]
		line++
		return bytes.TrimSuffix(l, []byte{'\r'}), true
	}
	var validation []string
	for {
		l, ok := next()
		if !ok {
			break
		}
		actLine := line
		if len(bytes.TrimSpace(l)) == 0 {
			return nil, &parseError{"illegal_argument_exception", fmt.Sprintf(
				"Malformed action/metadata line [%d], expected START_OBJECT or END_OBJECT but found [null]", actLine)}
		}
		var act map[string]json.RawMessage
		if err := json.Unmarshal(l, &act); err != nil {
			var tail any
			if json.Unmarshal(l, &tail) == nil {
				return nil, &parseError{"illegal_argument_exception", fmt.Sprintf(
					"Malformed action/metadata line [%d], expected START_OBJECT or END_OBJECT but found [%s]", actLine, tokenName(l))}
			}
			return nil, &parseError{"x_content_parse_exception", fmt.Sprintf("[%d:1] Unexpected character: %v", actLine, err)}
		}
		if len(act) != 1 {
			return nil, &parseError{"illegal_argument_exception", fmt.Sprintf(
				"Malformed action/metadata line [%d], expected a simple value for field [%d] but found [START_OBJECT]", actLine, len(act))}
		}
		var op bulkOp
		var meta json.RawMessage
		for k, v := range act {
			op.action, meta = k, v
		}
		switch op.action {
		case "index", "create", "update", "delete":
		default:
			return nil, &parseError{"illegal_argument_exception", fmt.Sprintf(
				"Malformed action/metadata line [%d], expected field [create], [delete], [index] or [update] but found [%s]", actLine, op.action)}
		}
		var params map[string]json.RawMessage
		if err := json.Unmarshal(meta, &params); err != nil || params == nil {
			return nil, &parseError{"illegal_argument_exception", fmt.Sprintf(
				"Malformed action/metadata line [%d], expected START_OBJECT but found [%s]", actLine, tokenName(meta))}
		}
		for k, v := range params {
			if !knownParams[k] {
				return nil, &parseError{"illegal_argument_exception", fmt.Sprintf(
					"Action/metadata line [%d] contains an unknown parameter [%s]", actLine, k)}
			}
			var str string
			switch k {
			case "_index", "_id":
				if err := json.Unmarshal(v, &str); err != nil {
					var num json.Number
					if json.Unmarshal(v, &num) != nil {
						return nil, &parseError{"illegal_argument_exception", fmt.Sprintf(
							"Malformed action/metadata line [%d], expected a simple value for field [%s] but found [%s]", actLine, k, tokenName(v))}
					}
					str = num.String()
				}
				if k == "_index" {
					op.index = str
				} else {
					op.id = str
				}
			case "pipeline":
				if err := json.Unmarshal(v, &str); err != nil {
					return nil, &parseError{"illegal_argument_exception", fmt.Sprintf(
						"Malformed action/metadata line [%d], expected a simple value for field [%s] but found [%s]", actLine, k, tokenName(v))}
				}
				op.pipeline, op.hasPipeline = str, true
			case "op_type":
				_ = json.Unmarshal(v, &str)
				if op.action == "index" && str == "create" {
					op.action = "create"
				}
			}
		}
		op.line = actLine
		if op.index == "" {
			op.index = defIndex
		}
		if op.action != "delete" {
			src, ok := next()
			if !ok {
				return nil, &parseError{"illegal_argument_exception", fmt.Sprintf(
					"Validation Failed: 1: source is missing for the %s at line [%d];", op.action, actLine)}
			}
			op.source = src
		}
		n := len(ops) + 1
		if op.index == "" {
			validation = append(validation, fmt.Sprintf("%d: index is missing;", n))
		}
		if (op.action == "update" || op.action == "delete") && op.id == "" {
			validation = append(validation, fmt.Sprintf("%d: id is missing;", n))
		}
		if len(op.id) > 512 {
			validation = append(validation, fmt.Sprintf("%d: id [%s] is too long, must be no longer than 512 bytes but was: %d;", n, op.id, len(op.id)))
		}
		if op.action != "delete" && len(bytes.TrimSpace(op.source)) == 0 {
			validation = append(validation, fmt.Sprintf("%d: source is missing;", n))
		}
		op.indexErr = validateIndexName(op.index)
		ops = append(ops, op)
	}
	if len(validation) > 0 {
		return nil, &parseError{"action_request_validation_exception", "Validation Failed: " + strings.Join(validation, " ")}
	}
	if len(ops) == 0 {
		return nil, &parseError{"action_request_validation_exception", "Validation Failed: 1: no requests added;"}
	}
	return ops, nil
}

func tokenName(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "null"
	}
	switch b[0] {
	case '{':
		return "START_OBJECT"
	case '[':
		return "START_ARRAY"
	case '"':
		return "VALUE_STRING"
	case 't', 'f':
		return "VALUE_BOOLEAN"
	case 'n':
		return "VALUE_NULL"
	}
	return "VALUE_NUMBER"
}

// validateIndexName follows Elasticsearch's MetadataCreateIndexService.validateIndexOrAliasName.
func validateIndexName(n string) string {
	if n == "" {
		return ""
	}
	bad := func(why string) string { return "Invalid index name [" + n + "], " + why }
	if strings.ToLower(n) != n {
		return bad("must be lowercase")
	}
	if strings.ContainsAny(n, `\/*?"<>| ,#:`) {
		return bad(`must not contain the following characters [ , ", *, \, <, |, ,, >, /, ?]`)
	}
	if n[0] == '_' || n[0] == '-' || n[0] == '+' {
		return bad("must not start with '_', '-', or '+'")
	}
	if n == "." || n == ".." {
		return bad("must not be '.' or '..'")
	}
	if len(n) > 255 {
		return bad("index name is too long, (" + strconv.Itoa(len(n)) + " > 255)")
	}
	return ""
}

// apply runs one operation with s.mu held and appends its response item to out.
func (s *Server) apply(out []byte, op *bulkOp, who string) ([]byte, bool) {
	s.stats.Items++
	out = append(out, `{"`...)
	out = append(out, op.action...)
	out = append(out, `":{"_index":`...)
	out = appendJSONString(out, op.index)
	out = append(out, `,"_id":`...)
	if op.id == "" && op.action != "delete" && op.indexErr == "" {
		op.id = s.newID()
	}
	if op.id == "" {
		out = append(out, "null"...)
	} else {
		out = appendJSONString(out, op.id)
	}
	itemErr := func(status int, typ, reason string, extra string) ([]byte, bool) {
		out = append(out, `,"status":`...)
		out = strconv.AppendInt(out, int64(status), 10)
		out = append(out, `,"error":{"type":`...)
		out = appendJSONString(out, typ)
		out = append(out, `,"reason":`...)
		out = appendJSONString(out, reason)
		if ix := s.indices[op.index]; ix != nil {
			out = append(out, `,"index_uuid":`...)
			out = appendJSONString(out, ix.uuid)
			out = append(out, `,"shard":"0","index":`...)
			out = appendJSONString(out, op.index)
		}
		out = append(out, extra...)
		out = append(out, "}}}"...)
		return out, true
	}
	if op.indexErr != "" {
		return itemErr(400, "invalid_index_name_exception", op.indexErr, "")
	}
	if s.rejectFrac > 0 && s.rng.Float64() < s.rejectFrac {
		s.stats.Rejected++
		return itemErr(429, "es_rejected_execution_exception",
			"rejected execution of org.elasticsearch.action.support.replication.TransportWriteAction$1/WrappedActionListener on EsThreadPoolExecutor[name = estest-node-1/write, queue capacity = 10000, task execution stats]", "")
	}
	// Authorization comes first, item by item: a missing index needs the auto_create
	// privilege, an existing one the privilege of the action.
	ix := s.indices[op.index]
	for p := range s.denied {
		if !matchPattern(p, op.index) {
			continue
		}
		s.stats.Denied++
		action, privs := "indices:data/write/index:op_type/"+op.action, "create_doc,create,index,write,all"
		switch {
		case ix == nil && op.action != "delete":
			action, privs = "indices:admin/auto_create", "auto_configure,create_index,manage,all"
		case op.action == "index":
			privs = "index,write,all"
		case op.action == "update":
			action, privs = "indices:data/write/update", "index,write,all"
		case op.action == "delete":
			action, privs = "indices:data/write/delete", "delete,write,all"
		}
		return itemErr(403, "security_exception", "action ["+action+"] is unauthorized for "+who+
			" with effective roles [estest_writer] on indices ["+op.index+"], this action is granted by the index privileges ["+privs+"]", "")
	}
	if ix != nil {
		for p, b := range s.blocks {
			if !matchPattern(p, op.index) {
				continue
			}
			s.stats.Blocked++
			switch b {
			case "read_only_allow_delete":
				return itemErr(429, "cluster_block_exception", "index ["+op.index+
					"] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block; for more information, see https://ela.st/es-req-flood-stage-watermark];", "")
			case "read_only":
				return itemErr(403, "cluster_block_exception", "index ["+op.index+"] blocked by: [FORBIDDEN/5/index read-only (api)];", "")
			default:
				return itemErr(403, "cluster_block_exception", "index ["+op.index+"] blocked by: [FORBIDDEN/8/index write (api)];", "")
			}
		}
	}
	if op.pipeline != "" && op.pipeline != "_none" && op.action != "delete" {
		if _, ok := s.pipelines[op.pipeline]; !ok {
			return itemErr(400, "illegal_argument_exception", "pipeline with id ["+op.pipeline+"] does not exist", "")
		}
	}
	// Every action but delete creates a missing index (TransportBulkAction's auto-create
	// step, which includes update); a delete on a missing index fails the item.
	if ix == nil && op.action != "delete" {
		ix = s.createIndex(op.index)
	}
	if ix == nil {
		return itemErr(404, "index_not_found_exception", "no such index ["+op.index+"]",
			`,"resource.type":"index_expression","resource.id":`+jsonString(op.index)+
				`,"index_uuid":"_na_","index":`+jsonString(op.index))
	}
	existing := ix.docs[op.id]
	var source []byte
	switch op.action {
	case "create":
		if existing != nil {
			s.stats.Conflicts++
			return itemErr(409, "version_conflict_engine_exception",
				fmt.Sprintf("[%s]: version conflict, document already exists (current version [%d])", op.id, existing.Version), "")
		}
		source = op.source
	case "index":
		source = op.source
	case "update":
		if existing == nil {
			var u struct {
				Upsert      json.RawMessage `json:"upsert"`
				Doc         json.RawMessage `json:"doc"`
				DocAsUpsert bool            `json:"doc_as_upsert"`
			}
			if json.Unmarshal(op.source, &u) == nil && (u.Upsert != nil || (u.DocAsUpsert && u.Doc != nil)) {
				if u.Upsert != nil {
					source = u.Upsert
				} else {
					source = u.Doc
				}
				break
			}
			return itemErr(404, "document_missing_exception", "["+op.id+"]: document missing", "")
		}
		merged, err := applyUpdate(existing.Source, op.source)
		if err != nil {
			s.stats.ParseFailures++
			return itemErr(400, "x_content_parse_exception", err.Error(), "")
		}
		source = merged
	case "delete":
		if existing == nil {
			ix.seq++
			out = append(out, `,"_version":1,"result":"not_found","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":`...)
			out = strconv.AppendInt(out, ix.seq-1, 10)
			out = append(out, `,"_primary_term":1,"status":404}}`...)
			return out, false
		}
		delete(ix.docs, op.id)
		ix.seq++
		out = append(out, `,"_version":`...)
		out = strconv.AppendInt(out, existing.Version+1, 10)
		out = append(out, `,"result":"deleted","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":`...)
		out = strconv.AppendInt(out, ix.seq-1, 10)
		out = append(out, `,"_primary_term":1,"status":200}}`...)
		return out, false
	}
	if perr := ix.mapping.check(source, op.id); perr != nil {
		s.stats.ParseFailures++
		extra := ""
		if perr.causeType != "" {
			extra = `,"caused_by":{"type":` + jsonString(perr.causeType) + `,"reason":` + jsonString(perr.causeReason) + `}`
		}
		return itemErr(400, "document_parsing_exception", perr.reason, extra)
	}
	d := &Document{Index: op.index, ID: op.id, Source: append(json.RawMessage(nil), source...), Version: 1, SeqNo: ix.seq}
	if op.pipeline != "_none" {
		d.Pipeline = op.pipeline
	}
	result, status := "created", 201
	if existing != nil {
		d.Version = existing.Version + 1
		result, status = "updated", 200
	} else {
		s.stats.Created++
	}
	ix.seq++
	ix.docs[op.id] = d
	out = append(out, `,"_version":`...)
	out = strconv.AppendInt(out, d.Version, 10)
	out = append(out, `,"result":"`...)
	out = append(out, result...)
	out = append(out, `","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":`...)
	out = strconv.AppendInt(out, d.SeqNo, 10)
	out = append(out, `,"_primary_term":1,"status":`...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, "}}"...)
	return out, false
}

// createIndex creates an index with s.mu held, applying the matching template of highest
// priority and the MapField mappings.
func (s *Server) createIndex(name string) *index {
	ix := &index{name: name, uuid: s.uuid(), docs: map[string]*Document{}, mapping: newMapping()}
	var best *template
	for _, t := range s.tmplParsed {
		if t.matches(name) && (best == nil || t.priority > best.priority) {
			best = t
		}
	}
	if best != nil {
		ix.mapping.dateDetection = best.dateDetection
		ix.mapping.stringType = best.stringType
		for p, typ := range best.fields {
			ix.mapping.set(p, typ)
		}
	}
	for p, typ := range s.fields {
		ix.mapping.set(p, typ)
	}
	s.indices[name] = ix
	return ix
}

func applyUpdate(src, upd []byte) ([]byte, error) {
	var u struct {
		Doc json.RawMessage `json:"doc"`
	}
	if err := json.Unmarshal(upd, &u); err != nil {
		return nil, fmt.Errorf("[1:1] failed to parse update request: %w", err)
	}
	if u.Doc == nil {
		return nil, errors.New("[1:1] Validation Failed: 1: script or doc is missing;")
	}
	var a, b map[string]any
	d := json.NewDecoder(bytes.NewReader(src))
	d.UseNumber()
	if err := d.Decode(&a); err != nil {
		return nil, err
	}
	d = json.NewDecoder(bytes.NewReader(u.Doc))
	d.UseNumber()
	if err := d.Decode(&b); err != nil {
		return nil, err
	}
	mergeInto(a, b)
	return json.Marshal(a)
}

func mergeInto(a, b map[string]any) {
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := a[k].(map[string]any); ok {
				mergeInto(am, bm)
				continue
			}
		}
		a[k] = v
	}
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// newID returns a 20-character URL-safe id, as Elasticsearch's auto-generated ids are.
func (s *Server) newID() string {
	s.idSeq++
	var b [15]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli()))
	binary.BigEndian.PutUint64(b[7:], s.idSeq^s.rng.Uint64()<<24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = idAlphabet[s.rng.IntN(len(idAlphabet))]
	}
	return string(b[:]) + "aaaaAA"
}

// ---- helpers ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes Elasticsearch's error envelope.
func writeError(w http.ResponseWriter, status int, typ, reason string) {
	cause := map[string]string{"type": typ, "reason": reason}
	writeJSON(w, status, map[string]any{
		"error":  map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason},
		"status": status,
	})
}

func writeIndexNotFound(w http.ResponseWriter, idx string) {
	cause := map[string]string{"type": "index_not_found_exception", "reason": "no such index [" + idx + "]",
		"resource.type": "index_or_alias", "resource.id": idx, "index_uuid": "_na_", "index": idx}
	e := map[string]any{"root_cause": []any{cause}}
	for k, v := range cause {
		e[k] = v
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"error": e, "status": 404})
}

func jsonString(s string) string { return string(appendJSONString(nil, s)) }

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// FilterPath applies Elasticsearch's filter_path response filtering to a JSON answer: spec is a comma-separated list
// of dotted paths where "*" matches any one key and "**" any number of keys; arrays are
// transparent, and an array element left without any matching field is dropped (as
// Elasticsearch does, which is why clients keep items.*.status in the filter).
func FilterPath(body []byte, spec string) []byte {
	var paths [][]string
	for _, p := range strings.Split(spec, ",") {
		if p = strings.TrimSpace(p); p != "" {
			paths = append(paths, strings.Split(p, "."))
		}
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return body
	}
	out, ok := filterValue(v, paths)
	if !ok {
		return []byte("{}")
	}
	b, err := json.Marshal(out)
	if err != nil {
		return body
	}
	return b
}

func filterValue(v any, paths [][]string) (any, bool) {
	for _, p := range paths {
		if len(p) == 0 {
			return v, true
		}
	}
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range x {
			var next [][]string
			for _, p := range paths {
				switch {
				case p[0] == "**":
					next = append(next, p, p[1:])
				case p[0] == "*" || p[0] == k:
					next = append(next, p[1:])
				}
			}
			if len(next) == 0 {
				continue
			}
			if fv, ok := filterValue(sub, next); ok {
				out[k] = fv
			}
		}
		return out, len(out) > 0
	case []any:
		var out []any
		for _, e := range x {
			if fv, ok := filterValue(e, paths); ok {
				out = append(out, fv)
			}
		}
		return out, len(out) > 0
	}
	return nil, false
}

// Wait polls cond every 10ms until it holds or ctx ends; a helper for tests.
func Wait(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
