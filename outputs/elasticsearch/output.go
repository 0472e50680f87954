package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
)

// Register adds the output type "elasticsearch" to r.
func Register(r *pipeline.Registry) {
	r.AddOutput(pipeline.Typed[pipeline.Output]("elasticsearch", NewConfig, New))
}

// Stats are the output's counters since it started.
type Stats struct {
	Indexed      int64 // documents stored (2xx)
	Duplicates   int64 // documents already stored (409 version_conflict_engine_exception)
	Retried      int64 // item retries (429/5xx items, counted once per retry)
	Denied       int64 // item attempts refused with 401/403 (privileges, index blocks), retried
	Truncated    int64 // dead-letter entries cut to fit the queue's size limit
	DeadLettered int64 // documents set aside in the dead-letter queue
	Requests     int64 // _bulk requests sent, retries included
	Failures     int64 // _bulk requests that failed as a whole (connection, 429, 5xx, ...)
}

type counters struct {
	indexed, duplicates, retried, denied, truncated, deadLettered, requests, failures atomic.Int64
}

// Output writes events to Elasticsearch with the _bulk API.
type Output struct {
	cfg      *Config
	stage    pipeline.Stage
	log      *zap.Logger
	client   *es.Client
	dlq      deadLetterQueue
	template func() (string, []byte) // nil: no template to manage

	ctx    context.Context // the output's lifetime; cancelled when Close gives up
	cancel context.CancelFunc
	in     chan *pipeline.Batch
	reqs   chan *request
	free   chan *request
	wg     sync.WaitGroup // batcher and workers
	closed chan struct{}  // closed when the batcher and workers returned

	bb      *bodyBuilder
	stats   counters
	closing atomic.Bool
	peer    peerCheck // Ready (ready.go)
	path    string    // the _bulk path and query

	ready      atomic.Bool // "ready" was logged: Elasticsearch answered
	reqOutage  *outage     // _bulk requests failing as a whole
	denyOutage *outage     // items refused with 401/403
	dlqOutage  *outage     // the dead-letter queue not taking entries
}

// New builds the output from a validated config.
func New(cfg *Config, s pipeline.Stage) (pipeline.Output, error) {
	return newOutput(cfg, s, templateAsset)
}

func newOutput(cfg *Config, s pipeline.Stage, tmpl func() (string, []byte)) (*Output, error) {
	if cfg.index == nil {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	}
	log := s.Log
	if log == nil {
		log = zap.NewNop()
	}
	httpTransport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialBodyConn((&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext),
		MaxIdleConnsPerHost:   cfg.Workers + 2,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.timeout,
		ExpectContinueTimeout: time.Second,
	}
	if cfg.TLS != nil {
		tc, err := cfg.TLS.Config()
		if err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("elasticsearch output tls: %w", err))
		}
		httpTransport.TLSClientConfig = tc
	}
	creds, err := cfg.Credentials()
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("elasticsearch output: %w", err))
	}
	client, err := es.NewClient(es.Config{
		Addresses:    cfg.Hosts,
		Username:     creds.Username,
		Password:     creds.Password.Reveal(),
		APIKey:       creds.APIKey.Reveal(),
		DisableRetry: true, // retries are ours: per item, with backoff, counted
		Transport:    httpTransport,
	})
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("elasticsearch client: %s", RedactHost(err.Error())))
	}
	var dlq deadLetterQueue
	if p := cfg.deadLetterPath(s); p != "" {
		f, err := newFileDLQ(p, cfg.dlqMaxBytes, cfg.dlqMaxFiles, log)
		if err != nil {
			return nil, err
		}
		dlq = f
	} else {
		k, err := newDeadLetterKafka(cfg.DeadLetter, cfg.dlqMaxMessage, log)
		if err != nil {
			return nil, err
		}
		dlq = k
	}
	if !cfg.manageTemplate() {
		tmpl = nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := &Output{
		cfg: cfg, stage: s, log: log, client: client, dlq: dlq, template: tmpl,
		ctx: ctx, cancel: cancel,
		in:     make(chan *pipeline.Batch),
		reqs:   make(chan *request),
		free:   make(chan *request, cfg.Workers+1),
		closed: make(chan struct{}),
		bb:     newBodyBuilder(cfg.index.WithAgent(s.Agent), codecs.NewDocumentEncoder(s.Agent)),
		peer:   peerCheck{client: &http.Client{Transport: httpTransport}, creds: creds},
		path:   bulkPath,
		reqOutage: newOutage(log, "elasticsearch _bulk requests fail; retrying until they succeed (the partitions wait, nothing is dropped)",
			"elasticsearch _bulk requests still fail", "elasticsearch _bulk requests succeed again"),
		denyOutage: newOutage(log, "elasticsearch refuses to store documents; retrying until it accepts them (the partitions wait, nothing is dead-lettered)",
			"elasticsearch still refuses to store documents", "elasticsearch stores documents again"),
		dlqOutage: newOutage(log, "the dead-letter queue does not take entries; the rejected documents wait (and their partition with them) until it does",
			"the dead-letter queue still does not take entries", "the dead-letter queue takes entries again"),
	}
	if cfg.Pipeline != "" {
		o.path += "&pipeline=" + url.QueryEscape(cfg.Pipeline)
	}
	if err := o.registerMetrics(s.Registerer()); err != nil {
		cancel()
		_ = dlq.close()
		return nil, err
	}
	for i := 0; i < cfg.Workers+1; i++ {
		o.free <- &request{}
	}
	o.wg.Add(1 + cfg.Workers)
	go o.batcher()
	for i := 0; i < cfg.Workers; i++ {
		go o.worker()
	}
	go func() { o.wg.Wait(); close(o.closed) }()
	log.Debug("elasticsearch output configured", zap.Strings("hosts", redactHosts(cfg.Hosts)), zap.String("index", cfg.Index),
		zap.Int("workers", cfg.Workers), zap.Int("batch_events", cfg.BatchEvents), zap.Int("batch_bytes", cfg.batchBytes),
		zap.Stringer("dead_letter", dlq))
	return o, nil
}

// markReady logs "elasticsearch output ready" the first time Elasticsearch answered (at
// Start, or at the first _bulk answer when it did not answer then).
func (o *Output) markReady() {
	if o.ready.Swap(true) {
		return
	}
	fields := []zap.Field{zap.Strings("hosts", redactHosts(o.cfg.Hosts)), zap.String("index", o.cfg.Index),
		zap.Int("workers", o.cfg.Workers), zap.Int("batch_events", o.cfg.BatchEvents), zap.Int("batch_bytes", o.cfg.batchBytes),
		zap.Stringer("dead_letter", o.dlq)}
	if o.cfg.Pipeline != "" {
		fields = append(fields, zap.String("pipeline", o.cfg.Pipeline))
	}
	o.log.Info("elasticsearch output ready", fields...)
}

// Stats returns the counters.
func (o *Output) Stats() Stats {
	return Stats{
		Indexed: o.stats.indexed.Load(), Duplicates: o.stats.duplicates.Load(),
		Retried: o.stats.retried.Load(), DeadLettered: o.stats.deadLettered.Load(),
		Denied: o.stats.denied.Load(), Truncated: o.stats.truncated.Load(),
		Requests: o.stats.requests.Load(), Failures: o.stats.failures.Load(),
	}
}

// Write hands b to the batcher. It blocks while every worker has a request in flight and
// the pending request is full (backpressure), or until ctx ends.
func (o *Output) Write(ctx context.Context, b *pipeline.Batch) error {
	if len(b.Events) == 0 {
		b.Ack()
		return nil
	}
	select {
	case o.in <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-o.ctx.Done():
		return fmt.Errorf("elasticsearch output closed: %w", o.ctx.Err())
	}
}

// Close flushes the pending request and waits for every request in flight until ctx is
// done; then it abandons the rest (those batches are never acknowledged).
func (o *Output) Close(ctx context.Context) error {
	if !o.closing.CompareAndSwap(false, true) {
		return nil
	}
	close(o.in)
	var err error
	select {
	case <-o.closed:
	case <-ctx.Done():
		err = ctx.Err()
		o.cancel()
		<-o.closed
	}
	o.cancel()
	o.logStats("elasticsearch output closed")
	if cerr := o.dlq.close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (o *Output) logStats(msg string) {
	s := o.Stats()
	o.log.Info(msg, zap.Int64("indexed", s.Indexed), zap.Int64("duplicates", s.Duplicates),
		zap.Int64("retried", s.Retried), zap.Int64("denied", s.Denied), zap.Int64("dead_lettered", s.DeadLettered),
		zap.Int64("requests", s.Requests), zap.Int64("failed_requests", s.Failures))
}

// batcher encodes incoming batches into the pending request and hands it to a worker when
// it is full or flush_interval after its first document.
func (o *Output) batcher() {
	defer o.wg.Done()
	defer close(o.reqs)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	stats := time.NewTicker(DefaultStatsInterval)
	defer stats.Stop()
	var last Stats
	var cur *request
	flush := func() bool {
		if cur == nil || len(cur.docs) == 0 {
			return true
		}
		timer.Stop()
		select {
		case o.reqs <- cur:
			cur = nil
			return true
		case <-o.ctx.Done():
			return false
		}
	}
	for {
		select {
		case b, ok := <-o.in:
			if !ok {
				flush()
				return
			}
			ack := &batchAck{b: b}
			ack.left.Store(int64(len(b.Events)))
			for i := range b.Events {
				if cur == nil {
					select {
					case cur = <-o.free:
					case <-o.ctx.Done():
						return
					}
				}
				if len(cur.docs) == 0 {
					timer.Reset(o.cfg.flushInterval)
				}
				o.bb.appendDoc(cur, &b.Events[i], i, ack)
				if len(cur.docs) >= o.cfg.BatchEvents || cur.size >= o.cfg.batchBytes {
					if !flush() {
						return
					}
				}
			}
			// The requests point at the documents (docRef), which stay valid until the
			// batch is acknowledged (pipeline.Output), after the last of them is done.
		case <-timer.C:
			if !flush() {
				return
			}
		case <-stats.C:
			if s := o.Stats(); s != last {
				last = s
				o.logStats("elasticsearch output progress")
			}
		case <-o.ctx.Done():
			return
		}
	}
}

// worker sends requests until the batcher closes o.reqs.
func (o *Output) worker() {
	defer o.wg.Done()
	var resp bytes.Buffer
	for r := range o.reqs {
		o.process(r, &resp)
		r.reset()
		if cap(r.body) > 4*o.cfg.batchBytes { // do not keep a huge buffer around
			r.body = nil
		}
		o.free <- r
	}
}

// errItemsLeft is returned by an attempt that left items to retry; errDenied by one that
// left items refused with 401/403.
var (
	errItemsLeft = errors.New("items to retry")
	errDenied    = errors.New("items refused")
)

// process sends r until every document is stored, a duplicate, or dead-lettered, retrying
// with backoff; it returns early only when the output's context ends. Failures are logged
// once per outage (outage.go).
func (o *Output) process(r *request, resp *bytes.Buffer) {
	attempts := 0
	var lastErr error
	defer o.settle(r, false)
	err := pipeline.Retry(o.ctx, o.cfg.backoff, func(attempt int, err error, delay time.Duration) {
		fields := []zap.Field{zap.Int("documents", len(r.docs)), zap.Int("attempt", attempt), zap.Duration("retry_in", delay)}
		switch {
		case errors.Is(err, errDenied):
			o.denyOutage.fail(zapcore.ErrorLevel, append(fields, zap.Error(err), zap.String("fix", r.deniedFix))...)
		case errors.Is(err, errItemsLeft):
			o.log.Debug("retrying rejected items", append(fields, zap.Error(err))...)
		default:
			lvl := zapcore.WarnLevel
			fix := "check that Elasticsearch runs and is reachable from this host (hosts, tls), and the cluster's health"
			if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
				lvl = zapcore.ErrorLevel
				fix = "check username and password (or password_file), or api_key (or api_key_file), and the privileges of that user or key: " + privilegesNeeded
			}
			o.reqOutage.fail(lvl, append(fields, zap.Strings("hosts", redactHosts(o.cfg.Hosts)), zap.Error(err), zap.String("fix", fix))...)
		}
	}, func(ctx context.Context) error {
		attempts++
		lastErr = o.attempt(ctx, r, resp, attempts)
		return lastErr
	})
	if err == nil || len(r.docs) == 0 {
		return
	}
	var stop *pipeline.StopError
	if errors.As(err, &stop) || o.ctx.Err() != nil {
		// Closing: the remaining batches are never acknowledged. The last attempt may have
		// failed only because Close gave up on it; that is no reason to dead-letter.
		return
	}
	// MaxAttempts reached: the remaining documents go to the dead-letter queue.
	o.settle(r, false)
	reason := fmt.Sprintf("gave up after %d attempts: %v", attempts, lastErr)
	o.deadLetter(r, func(int) (int, string, string) { return 0, "max_attempts_exceeded", reason }, attempts)
}

// privilegesNeeded says which privileges the output needs, for error messages.
const privilegesNeeded = "it needs the index privileges create_doc (or create, index, write) and auto_configure (or create_index) on the indices it writes, and manage_index_templates to install the template"

// settle records that r is no longer held by a failing request or refused items;
// recovered says whether the condition ended (false: r gave up or the output closes).
func (o *Output) settle(r *request, recovered bool) {
	if r.failing {
		r.failing = false
		o.reqOutage.leave(recovered)
	}
	if r.denied {
		r.denied = false
		o.denyOutage.leave(recovered)
	}
}

// attempt sends r once and settles every document it can. It returns nil when none is
// left, errItemsLeft or errDenied (wrapped) when some items must be retried, or the
// request's error.
func (o *Output) attempt(ctx context.Context, r *request, resp *bytes.Buffer, attempts int) error {
	o.stats.requests.Add(1)
	status, err := o.send(ctx, r, resp)
	r.status = status
	if err != nil {
		o.stats.failures.Add(1)
		o.holdFailing(r)
		return err
	}
	switch {
	case status == http.StatusOK:
	case status == http.StatusRequestEntityTooLarge:
		o.answered(r)
		o.stats.failures.Add(1)
		o.split(ctx, r, resp, attempts, func() (int, string, string) {
			return http.StatusRequestEntityTooLarge, "request_entity_too_large",
				fmt.Sprintf("the document (%d bytes with its action line) is larger than the cluster's http.max_content_length", r.size)
		})
		return nil
	case status == http.StatusBadRequest:
		// The request as a whole is refused (a malformed or invalid action): split it until
		// the documents that cause it are alone, and dead-letter only those.
		o.answered(r)
		o.stats.failures.Add(1)
		typ, reason := errorOf(resp.Bytes())
		o.split(ctx, r, resp, attempts, func() (int, string, string) { return http.StatusBadRequest, typ, reason })
		return nil
	default:
		// 429, 5xx, and 401/403/404 (credentials or a proxy that an operator can fix):
		// retried, never dropped.
		o.stats.failures.Add(1)
		o.holdFailing(r)
		typ, reason := errorOf(resp.Bytes())
		return fmt.Errorf("_bulk answered %d %s: %s", status, typ, reason)
	}
	o.answered(r)
	br := &r.answer
	if err := parseResponse(resp.Bytes(), len(r.docs), br); err != nil {
		o.stats.failures.Add(1)
		return err
	}
	var indexed, dups, retry, denied, reject int
	var firstRetry, firstDenied string
	for i := range br.Items {
		it := br.Items[i].result()
		switch classify(it) {
		case outIndexed:
			indexed++
		case outDuplicate:
			dups++
		case outRetry:
			retry++
			if firstRetry == "" && it != nil && it.Error != nil {
				firstRetry = fmt.Sprintf("%d %s: %s", it.Status, it.Error.Type, it.Error.Reason)
			}
		case outDenied:
			denied++
			if firstDenied == "" {
				firstDenied, r.deniedFix = deniedReason(it, r.field(&r.docs[i], r.docs[i].idxOff, r.docs[i].idxLen))
			}
		case outReject:
			reject++
		}
	}
	o.stats.indexed.Add(int64(indexed))
	o.stats.duplicates.Add(int64(dups))
	if reject > 0 {
		// Dead-letter before acknowledging anything of those batches.
		o.deadLetterWhere(r, func(i int) bool { return classify(br.Items[i].result()) == outReject },
			func(i int) (int, string, string) {
				it := br.Items[i].result()
				if it.Error == nil {
					return it.Status, "unknown", "item failed without an error object"
				}
				return it.Status, it.Error.Type, it.Error.Reason
			}, attempts)
	}
	// Acknowledge the stored and duplicate documents, keep the ones to retry.
	r.keep(func(i int) bool {
		switch classify(br.Items[i].result()) {
		case outRetry, outDenied:
			return true
		case outIndexed, outDuplicate:
			r.docs[i].ack.done(1)
		}
		return false
	})
	if denied > 0 {
		if !r.denied {
			r.denied = true
			o.denyOutage.enter()
		}
		o.stats.denied.Add(int64(denied))
		o.stats.retried.Add(int64(retry))
		return fmt.Errorf("%w: %d of %d items (first: %s)", errDenied, denied, len(br.Items), firstDenied)
	}
	if r.denied {
		r.denied = false
		o.denyOutage.leave(true)
	}
	if retry == 0 {
		return nil
	}
	o.stats.retried.Add(int64(retry))
	return fmt.Errorf("%w: %d of %d items (first: %s)", errItemsLeft, retry, len(br.Items), firstRetry)
}

// holdFailing records that r is held by failing requests.
func (o *Output) holdFailing(r *request) {
	if !r.failing {
		r.failing = true
		o.reqOutage.enter()
	}
}

// answered records that Elasticsearch answered r (the request as a whole went through).
func (o *Output) answered(r *request) {
	o.markReady()
	if r.failing {
		r.failing = false
		o.reqOutage.leave(true)
	}
}

// deniedReason describes a 401/403 item for the log: Elasticsearch's reason and what to fix.
func deniedReason(it *itemResult, index string) (string, string) {
	typ, reason := "", ""
	if it.Error != nil {
		typ, reason = it.Error.Type, it.Error.Reason
	}
	msg := fmt.Sprintf("%d %s: %s", it.Status, typ, reason)
	switch typ {
	case "cluster_block_exception":
		if it.Status == http.StatusTooManyRequests {
			return msg, "free disk space on the data nodes below the flood-stage watermark: Elasticsearch then removes the read_only_allow_delete block of " + index + " by itself"
		}
		return msg, "index " + index + " has a block: remove it (PUT " + index + "/_settings with {\"index.blocks.write\": null} or \"index.blocks.read_only\": null) once the reason for it is gone (e.g. free disk space)"
	default:
		return msg, "grant the role of the configured user or API key the missing privileges on " + index + ": " + privilegesNeeded
	}
}

// split handles a request refused as a whole (413 too large, 400 invalid): a request of
// several documents is split in halves that are sent on their own; a single document is
// dead-lettered with why's answer.
func (o *Output) split(ctx context.Context, r *request, resp *bytes.Buffer, attempts int, why func() (int, string, string)) {
	if len(r.docs) == 1 {
		status, typ, reason := why()
		o.deadLetter(r, func(int) (int, string, string) { return status, typ, reason }, attempts)
		return
	}
	half := len(r.docs) / 2
	for _, part := range [][]docRef{r.docs[:half], r.docs[half:]} {
		// The halves point into r's body, which stays as it is until r.reset below.
		sub := &request{body: r.body, docs: slices.Clone(part), size: bodySize(part)}
		o.process(sub, resp)
		if ctx.Err() != nil {
			break
		}
	}
	r.reset()
}

// send posts r's _bulk body and reads the answer into resp. A transport error (connection
// refused or reset, timeout) is returned as an error; any HTTP status is returned as is.
func (o *Output) send(ctx context.Context, r *request, resp *bytes.Buffer) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.timeout)
	defer cancel()
	r.pieces = r.appendPieces(r.pieces[:0])
	req, err := newPiecesRequest(ctx, http.MethodPost, o.path, int64(r.size), r.pieces,
		func() net.Buffers { return r.appendPieces(nil) })
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/json")
	res, err := o.client.Perform(req)
	if err != nil {
		return 0, fmt.Errorf("_bulk request: %w", err)
	}
	defer res.Body.Close()
	resp.Reset()
	if _, err := resp.ReadFrom(res.Body); err != nil {
		return 0, fmt.Errorf("reading the _bulk answer: %w", err)
	}
	return res.StatusCode, nil
}

// deadLetter sets every document of r aside and acknowledges them.
func (o *Output) deadLetter(r *request, why func(i int) (int, string, string), attempts int) {
	o.deadLetterWhere(r, func(int) bool { return true }, why, attempts)
	r.reset()
}

// deadLetterWhere writes an entry for each document i of r for which pick(i) holds, waits
// until the entries are durable (retrying forever: a full or unreachable queue holds the
// documents back, loudly, rather than losing them), then marks those documents done.
// Entries are rebuilt at each attempt, cut to the queue's current entry size limit.
func (o *Output) deadLetterWhere(r *request, pick func(i int) bool, why func(i int) (int, string, string), attempts int) {
	var picked []int
	for i := range r.docs {
		if pick(i) {
			picked = append(picked, i)
		}
	}
	n := len(picked)
	if n == 0 {
		return
	}
	now, stage := time.Now(), o.stage.ID()
	_, firstType, firstReason := why(picked[0])
	// Entries are written in chunks that each fit in one dead-letter file (or one Kafka
	// record batch), so that a rejected request larger than the queue's free room can still
	// go through once room is made; next is the first document whose entry is not durable.
	next, cut := 0, 0
	var entries, one []byte
	write := func(ctx context.Context) error {
		for next < len(picked) {
			limit := o.dlq.maxEntry()
			entries = entries[:0]
			j, chunkCut := next, 0
			for ; j < len(picked); j++ {
				d := &r.docs[picked[j]]
				status, typ, reason := why(picked[j])
				e := deadLetterEntry{now: now, stage: stage, index: r.field(d, d.idxOff, d.idxLen), id: r.field(d, d.idOff, d.idLen),
					status: status, typ: typ, reason: reason, attempts: attempts, doc: r.source(d)}
				if d.ack != nil && d.ev < len(d.ack.b.Events) {
					if ev := &d.ack.b.Events[d.ev]; ev.Topic != "" {
						e.topic, e.partition, e.offset = ev.Topic, ev.Partition, ev.Offset
					}
				}
				var c bool
				one, c = appendEntry(one[:0], &e, limit)
				if limit > 0 && len(entries) > 0 && len(entries)+len(one) > limit {
					break
				}
				entries = append(entries, one...)
				if c {
					chunkCut++
				}
			}
			if err := o.dlq.write(ctx, entries); err != nil {
				return err
			}
			next, cut = j, cut+chunkCut
		}
		return nil
	}
	forever := o.cfg.backoff
	forever.MaxAttempts = 0
	held := false
	err := pipeline.Retry(o.ctx, forever, func(attempt int, err error, delay time.Duration) {
		if !held {
			held = true
			o.dlqOutage.enter()
		}
		fix := "check the disk and the permissions of the dead-letter file"
		switch {
		case errors.Is(err, errDeadLetterFull):
			fix = "read the entries, then move or delete the rotated dead-letter files, or raise dead_letter max_bytes or max_files"
		case o.cfg.DeadLetter != nil && o.cfg.DeadLetter.KafkaTopic != "":
			fix = "check that the dead-letter topic exists and its brokers are reachable"
		}
		o.dlqOutage.fail(zapcore.ErrorLevel, zap.Stringer("dead_letter", o.dlq), zap.Int("documents", n),
			zap.Int("attempt", attempt), zap.Duration("retry_in", delay), zap.Error(err), zap.String("fix", fix))
	}, write)
	if held {
		o.dlqOutage.leave(err == nil)
	}
	if err != nil {
		return // closing: those batches are never acknowledged
	}
	o.stats.deadLettered.Add(int64(n))
	o.stats.truncated.Add(int64(cut))
	fields := []zap.Field{zap.Int("documents", n), zap.String("error_type", firstType), zap.String("reason", firstReason),
		zap.Stringer("dead_letter", o.dlq)}
	if cut > 0 {
		fields = append(fields, zap.Int("entries_cut", cut), zap.Int("max_entry_bytes", o.dlq.maxEntry()))
	}
	o.log.Warn("documents rejected by elasticsearch, set aside in the dead-letter queue", fields...)
	for _, i := range picked {
		r.docs[i].ack.done(1)
	}
}

// errorOf extracts the type and reason of an Elasticsearch error answer
// ({"error":{"type","reason"},"status"}), or a short excerpt of any other body.
func errorOf(body []byte) (string, string) {
	var e struct {
		Error struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Type != "" {
		return e.Error.Type, e.Error.Reason
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return "http_error", s
}
