package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// batchAck counts the documents of one pipeline batch that are not yet done (stored, a
// duplicate, or dead-lettered) and acknowledges the batch when the count reaches zero. A
// pipeline batch may be spread over several _bulk requests, and one _bulk request may hold
// several pipeline batches.
type batchAck struct {
	b    *pipeline.Batch
	left atomic.Int64
}

func (a *batchAck) done(n int) {
	if a.left.Add(int64(-n)) == 0 {
		a.b.Ack()
	}
}

// docRef locates one document's two lines inside a request. The action line, and the
// source line when the output encoded it itself, are in the request's body: from off, a
// newline (ending the line before it), the action line, then that source. A document's
// source (its Doc) stays where the pipeline put it, in doc: the request only points at it
// (its batch keeps its buffers until it is acknowledged, after the request is done).
type docRef struct {
	off    int    // start of the document's piece of the body (its leading newline)
	src    int    // start of the source line, relative to off
	end    int    // end of the piece (before the source's newline), relative to off
	doc    []byte // the source when it is the event's Doc (then src == end)
	idxOff int    // the quoted _index value, relative to off
	idxLen int
	idOff  int // the quoted _id value, relative to off; idLen 0 when absent
	idLen  int
	ev     int // the event's index in ack.b.Events (its origin, for dead-letter entries)
	ack    *batchAck
}

// size is the number of bytes d adds to a request's NDJSON body: its two lines with their
// newlines (the leading newline of its piece counts for the one after its source).
func (d *docRef) size() int { return d.end + len(d.doc) }

// bodySize is the size of the NDJSON body of docs: the sum of their sizes.
func bodySize(docs []docRef) int {
	n := 0
	for i := range docs {
		n += docs[i].size()
	}
	return n
}

// request is one _bulk request: the documents it holds, in order, and the body bytes that
// they point into.
type request struct {
	body   []byte
	docs   []docRef
	size   int          // bytes of the NDJSON body: the sum of the documents' size
	pieces net.Buffers  // the body to send, rebuilt for each attempt (see appendPieces)
	answer bulkResponse // the last answer, its items reused by the next (see parseResponse)

	// State of the current process call (output.go).
	status    int    // HTTP status of the last attempt (0: no answer)
	failing   bool   // held by failing requests (counted in Output.reqOutage)
	denied    bool   // holds items refused with 401/403 (counted in Output.denyOutage)
	deniedFix string // what to fix, for the log
}

func (r *request) reset() {
	r.body = r.body[:0]
	clear(r.docs)
	r.docs = r.docs[:0]
	r.size = 0
	clear(r.pieces)
	r.pieces = r.pieces[:0]
}

// newline ends the last source line of a body. It is only ever read.
var newline = []byte{'\n'}

// appendPieces appends the pieces of r's NDJSON body to dst: for each document its piece
// of the body (without the leading newline for the first) and its doc, then the last
// newline. Their lengths add up to r.size.
func (r *request) appendPieces(dst net.Buffers) net.Buffers {
	for i := range r.docs {
		d := &r.docs[i]
		p := r.body[d.off : d.off+d.end]
		if i == 0 {
			p = p[1:]
		}
		dst = append(dst, p)
		if d.doc != nil {
			dst = append(dst, d.doc)
		}
	}
	if len(r.docs) > 0 {
		dst = append(dst, newline)
	}
	return dst
}

// source returns the source line of d (without its newline).
func (r *request) source(d *docRef) []byte {
	if d.doc != nil {
		return d.doc
	}
	return r.body[d.off+d.src : d.off+d.end]
}

// field returns the unquoted _index or _id of d.
func (r *request) field(d *docRef, off, n int) string {
	if n == 0 {
		return ""
	}
	raw := r.body[d.off+off : d.off+off+n]
	s, err := codecs.AppendUnquoted(nil, raw)
	if err != nil {
		return string(raw)
	}
	return string(s)
}

// keep drops the documents for which keep returns false, keeping the others in their order.
// The body is not rewritten: the pieces of the dropped documents are no longer sent.
func (r *request) keep(keep func(i int) bool) {
	w := 0
	for i := range r.docs {
		if keep(i) {
			r.docs[w] = r.docs[i]
			w++
		}
	}
	clear(r.docs[w:])
	r.docs = r.docs[:w]
	r.size = bodySize(r.docs)
}

// bodyBuilder appends documents as `create` actions to a request body. It keeps scratch
// buffers between calls, so building a body does not allocate per document.
type bodyBuilder struct {
	index   *codecs.Template
	static  []byte              // quoted index when the template is static
	encoder *codecs.JSONEncoder // a document encoder: one line per event
	scratch []byte
	daily   bool  // the index depends on the UTC day only: cache it per day
	dayKey  int64 // day number of the cached daily index
	dayIdx  []byte
}

func newBodyBuilder(index *codecs.Template, enc *codecs.JSONEncoder) *bodyBuilder {
	b := &bodyBuilder{index: index, encoder: enc, dayKey: -1 << 62,
		daily: !index.HasFields() && dailyOnly(index.String())}
	if index.IsStatic() {
		b.static = codecs.AppendQuoted(nil, index.Append(nil, &pipeline.Event{}))
	}
	return b
}

const actionPrefix = `{"create":{"_index":`

// appendDoc appends the action and source lines of e, event ev of ack's batch, to r. The
// source is not copied when it is e's Doc (see docRef).
func (bb *bodyBuilder) appendDoc(r *request, e *pipeline.Event, ev int, ack *batchAck) {
	start := len(r.body)
	d := docRef{off: start, ev: ev, ack: ack}
	r.body = append(r.body, "\n"+actionPrefix...)
	d.idxOff = len(r.body) - start
	r.body = bb.appendIndex(r.body, e)
	d.idxLen = len(r.body) - start - d.idxOff
	if id := bb.appendID(bb.scratch[:0], e); len(id) > 0 {
		bb.scratch = id
		r.body = append(r.body, `,"_id":`...)
		d.idOff = len(r.body) - start
		r.body = codecs.AppendQuoted(r.body, id)
		d.idLen = len(r.body) - start - d.idOff
	}
	r.body = append(r.body, "}}\n"...)
	d.src = len(r.body) - start
	if e.Doc != nil {
		d.doc = e.Doc // one line, by the contract of pipeline.Event.Doc
	} else {
		// A line event: the wire format without @metadata, on one line as NDJSON needs.
		r.body = bb.encoder.Encode(r.body, e)
	}
	d.end = len(r.body) - start
	r.docs = append(r.docs, d)
	r.size += d.size()
}

func (bb *bodyBuilder) appendIndex(dst []byte, e *pipeline.Event) []byte {
	if bb.static != nil {
		return append(dst, bb.static...)
	}
	if bb.daily {
		// Only the date varies: render once per UTC day.
		day := e.Timestamp.Unix()
		if day >= 0 {
			day /= 86400
		} else {
			day = (day - 86399) / 86400
		}
		if day == bb.dayKey && bb.dayIdx != nil {
			return append(dst, bb.dayIdx...)
		}
		bb.scratch = bb.index.Append(bb.scratch[:0], e)
		bb.dayKey, bb.dayIdx = day, codecs.AppendQuoted(bb.dayIdx[:0], bb.scratch)
		return append(dst, bb.dayIdx...)
	}
	bb.scratch = bb.index.Append(bb.scratch[:0], e)
	return codecs.AppendQuoted(dst, bb.scratch)
}

// dailyOnly reports whether the date references of an index template use only year, month
// and day letters, so that its rendering can be cached per UTC day.
func dailyOnly(tpl string) bool {
	for i := 0; i < len(tpl); i++ {
		if tpl[i] != '%' || i+2 >= len(tpl) || tpl[i+1] != '{' || tpl[i+2] != '+' {
			continue
		}
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			return false
		}
		for _, c := range tpl[i+3 : i+j] {
			switch c {
			case 'y', 'Y', 'M', 'd', '.', '-', '/', '_':
			default:
				return false
			}
		}
		i += j
	}
	return true
}

// appendID appends the document _id: the event's id, set once by the input that read it
// (the file input from the stream and offset, the kafka input from the record). Nothing is
// appended for an event without one (Elasticsearch then generates an id).
func (bb *bodyBuilder) appendID(dst []byte, e *pipeline.Event) []byte {
	return append(dst, e.ID...)
}

// ---- response ----

// bulkResponse is the part of a _bulk answer the output reads.
type bulkResponse struct {
	Errors bool       `json:"errors"`
	Items  []bulkItem `json:"items"`
}

// bulkItem holds the outcome of one action; the output only sends create, but an answer
// keyed by another action is read the same way. Values, not pointers: decoding a
// successful item allocates nothing.
type bulkItem struct {
	Create itemResult `json:"create"`
	Index  itemResult `json:"index"`
	Update itemResult `json:"update"`
	Delete itemResult `json:"delete"`
}

type itemResult struct {
	Status int        `json:"status"`
	Error  *itemError `json:"error"`
}

type itemError struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// result returns the item's outcome, nil when the item holds none of the four actions.
func (it *bulkItem) result() *itemResult {
	for _, r := range []*itemResult{&it.Create, &it.Index, &it.Update, &it.Delete} {
		if r.Status != 0 {
			return r
		}
	}
	return nil
}

// outcome classifies one item.
type outcome uint8

const (
	outIndexed   outcome = iota // 2xx
	outDuplicate                // 409 version_conflict_engine_exception: already stored
	outRetry                    // 429 or 5xx
	outDenied                   // 401/403 (privileges, index blocks), 429 flood-stage block: retried, loudly
	outReject                   // any other error: dead-letter
)

func classify(r *itemResult) outcome {
	switch {
	case r == nil:
		return outRetry
	case r.Status >= 200 && r.Status < 300:
		return outIndexed
	case r.Status == 409 && r.Error != nil && r.Error.Type == "version_conflict_engine_exception":
		return outDuplicate
	case r.Status == 429 && r.Error != nil && r.Error.Type == "cluster_block_exception":
		// The disk flood-stage block (read_only_allow_delete): retried like any 429, but
		// logged like a refusal, since it lasts until an operator frees disk space.
		return outDenied
	case r.Status == 429 || r.Status >= 500:
		return outRetry
	case r.Status == 401 || r.Status == 403:
		// security_exception (missing index privileges), cluster_block_exception (a write or
		// read-only block): an operator can fix them, and no document is wrong.
		return outDenied
	}
	return outReject
}

// bulkPath is the _bulk endpoint, asking Elasticsearch to answer only what the output
// reads (every item keeps its status, so items stay aligned with the request).
const bulkPath = "/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason"

// parseResponse decodes a _bulk answer for a request of n documents.
//
// The usual answer, every item stored, is read by parseSuccess with the allocation-free
// scanner of codecs (encoding/json took about a sixth of the indexer's CPU on it); any
// other answer is decoded with encoding/json. The scanner reuses the room of into.Items
// (it writes every item whole; fresh items per answer were a sixth of the indexer's
// allocation); encoding/json gets fresh items, as it does not zero reused elements.
func parseResponse(body []byte, n int, into *bulkResponse) error {
	*into = bulkResponse{Items: slices.Grow(into.Items[:0], n)}
	if parseSuccess(body, n, into) {
		return nil
	}
	*into = bulkResponse{Items: make([]bulkItem, 0, n)}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("decoding the _bulk answer: %w", err)
	}
	if len(into.Items) != n {
		return fmt.Errorf("the _bulk answer has %d items for %d documents", len(into.Items), n)
	}
	return nil
}

// parseSuccess reads an answer of exactly n items that each hold one action with a 2xx
// status and no error, filling into.Items. It returns false for anything else (an error,
// another status, a malformed or misaligned answer); the caller then decodes in full.
func parseSuccess(body []byte, n int, into *bulkResponse) bool {
	if parseCompactSuccess(body, n, into) {
		return true
	}
	into.Items = into.Items[:0]
	bad, sawItems := false, false
	item := func(elem []byte) bool {
		bad = true // until the item proves good
		var it bulkItem
		codecs.Members(elem, func(action, res []byte) bool {
			var r *itemResult
			switch {
			case codecs.KeyIs(action, "create"):
				r = &it.Create
			case codecs.KeyIs(action, "index"):
				r = &it.Index
			case codecs.KeyIs(action, "update"):
				r = &it.Update
			case codecs.KeyIs(action, "delete"):
				r = &it.Delete
			default:
				return false
			}
			status, hasErr := -1, false
			wellFormed := codecs.Members(res, func(k, v []byte) bool {
				switch {
				case codecs.KeyIs(k, "error"):
					hasErr = true
					return false
				case codecs.KeyIs(k, "status"):
					status = parseStatus(v)
				}
				return true
			})
			if wellFormed && !hasErr && status >= 200 && status <= 299 {
				r.Status = status
				bad = false
			}
			return false // one action per item
		})
		if bad || len(into.Items) == n {
			bad = true
			return false
		}
		into.Items = append(into.Items, it)
		return true
	}
	wellFormed := codecs.Members(body, func(k, v []byte) bool {
		switch {
		case codecs.KeyIs(k, "errors"):
			bad = string(v) != "false"
		case codecs.KeyIs(k, "items"):
			sawItems = true
			bad = !codecs.Elements(v, item) || bad
		}
		return !bad
	})
	return wellFormed && sawItems && !bad && len(into.Items) == n
}

// compactHead and compactItem are the exact text of the answer Elasticsearch writes for a
// request whose items were all created, as bulkPath filters it.
const (
	compactHead = `{"errors":false,"items":[`
	compactItem = `{"create":{"status":201}}`
)

// parseCompactSuccess recognises, by comparing bytes, the answer Elasticsearch writes when
// all n documents were created: compactHead, n times compactItem separated by commas,
// "]}". It fills into.Items and reports whether the answer was exactly that.
func parseCompactSuccess(body []byte, n int, into *bulkResponse) bool {
	body = bytes.TrimSpace(body)
	if n < 1 || !bytes.HasPrefix(body, []byte(compactHead)) || !bytes.HasSuffix(body, []byte("]}")) {
		return false
	}
	items := body[len(compactHead) : len(body)-2]
	if len(items) != n*len(compactItem)+n-1 {
		return false
	}
	for i := 0; i < n; i++ {
		it := items[i*(len(compactItem)+1):]
		if string(it[:len(compactItem)]) != compactItem || i < n-1 && it[len(compactItem)] != ',' {
			return false
		}
	}
	for i := 0; i < n; i++ {
		into.Items = append(into.Items, bulkItem{Create: itemResult{Status: 201}})
	}
	return true
}

// parseStatus parses a raw JSON HTTP status (three digits); -1 if it is not one.
func parseStatus(raw []byte) int {
	if len(raw) != 3 {
		return -1
	}
	s := 0
	for _, c := range raw {
		if c < '0' || c > '9' {
			return -1
		}
		s = s*10 + int(c-'0')
	}
	return s
}
