// Package kafka is logpipe's output "kafka": it encodes events (the JSON wire format by
// default) and produces them to one Kafka topic.
//
// It uses kafka-go's low-level produce API (kafka.Client.RawProduce over a shared Transport,
// which routes each request to the partition's leader) with its own partition-aware batching,
// rather than kafka.Writer: measured against in-process kfake the low-level path is faster
// and allocates far less (see BenchmarkProduce and the README), and it gives the output
// direct control over acknowledgements and retries. The output encodes the record batches
// (Kafka's format of magic 2) and compresses them itself (batch.go, lz4.go): once per record
// batch, from the buffer the events were encoded into, a retry sending the same bytes.
//
// Batching: a pipeline batch goes as a whole to one partition (the partition changes in turn
// each time a record batch for it is sent), or, with partition_key, each event goes to the
// partition murmur2(key) selects, as Kafka's default partitioner does. Encoded events are
// gathered per destination partition into record batches capped by batch_events and
// batch_bytes; a partly filled record batch is sent after linger. Up to max_in_flight produce
// requests run at once; Write blocks beyond that (backpressure reaches the inputs).
//
// Acknowledgement: a pipeline batch is acknowledged once every produce request carrying one
// of its events was acknowledged by Kafka (as required_acks asks). Failed requests are
// retried forever with capped exponential backoff; a retried request may land after a later
// one, so order within a partition is kept only while nothing fails (as with Filebeat).
// A MESSAGE_TOO_LARGE answer is not retried as it is: the record batch is split, a single
// record is cut to the topic's limit (learnt from its max.message.bytes, or from the
// answer), and the limits are lowered for later events (see shrinkRecord).
package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/logpipe/logpipe/codecs"
	"github.com/logpipe/logpipe/pipeline"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"go.uber.org/zap"
)

// Register adds the output type "kafka" to r.
func Register(r *pipeline.Registry) {
	r.AddOutput(pipeline.Typed[pipeline.Output]("kafka", NewConfig, func(c *Config, s pipeline.Stage) (pipeline.Output, error) {
		return New(c, s)
	}))
}

// retryBackoff paces the retries of one produce request: a broker that is down is probed
// at least every 5 s, so the output resumes soon after it comes back.
var retryBackoff = pipeline.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.2}

// metadataMaxAge is how long the partition count of the topic is trusted.
const metadataMaxAge = 30 * time.Second

// recordOverhead is the room kept in max_message_bytes for a record's framing.
const recordOverhead = 256

// chunkSlack is the room a new chunk's buffer has beyond batch_bytes, for the record that
// overflows it (moved to the next chunk) without growing the buffer.
const chunkSlack = 64 << 10

// Output is the output "kafka". Write is called from one goroutine; produce requests run in
// their own goroutines, bounded by max_in_flight.
type Output struct {
	cfg       *Config
	log       *zap.Logger
	enc       pipeline.Encoder
	key       *codecs.Template // nil without partition_key
	transport *kafka.Transport
	client    *kafka.Client
	brokers   string // for messages

	// ctx bounds the retries of in-flight requests; cancelled when Close gives up.
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{} // one token per produce request in flight
	wg     sync.WaitGroup

	mu          sync.Mutex // guards the fields below (Write and the linger timer)
	open        []*chunk   // the record batch being filled, per partition (nil: none)
	nparts      int        // partitions of the topic, from metadata
	metaAt      time.Time  // when nparts was learnt
	guessed     bool       // nparts is a guess (1): the cluster did not answer yet
	next        int        // partition of unkeyed pipeline batches
	advance     bool       // a record batch of partition next was sent: move on at the next Write
	lingerTimer *time.Timer
	lingerArmed bool
	closed      bool
	keyBuf      []byte // scratch for the rendered partition key

	// maxMsg and batchBytes are max_message_bytes and batch_bytes, lowered to what the
	// topic accepts once that is known (from its max.message.bytes, or learnt from
	// MESSAGE_TOO_LARGE answers). Atomic: produce goroutines lower them without o.mu.
	maxMsg     atomic.Int64
	batchBytes atomic.Int64
	// limitKnown: the topic's max.message.bytes was read; until then the lookup is
	// retried (lazily, at most every limitRetry) after successful produce requests.
	limitKnown   atomic.Bool
	limitTriedAt atomic.Int64 // unix nanoseconds of the last lookup
	limitBusy    atomic.Bool  // a lookup runs in the background
	bg           sync.WaitGroup
	// cutEnc re-encodes, cut, a record Kafka refused as too large (in a produce
	// goroutine, which must not take o.mu); cutMu serialises its use.
	cutMu  sync.Mutex
	cutEnc pipeline.Encoder

	freeMu sync.Mutex
	free   []*chunk // recycled chunks

	// encoders holds the batch encoders not in use (as many as were used at once, at most
	// max_in_flight): each keeps buffers of about a record batch's size.
	encoders chan *batchEncoder

	metrics *outputMetrics

	failing     atomic.Bool  // requests are failing (an outage is under way)
	failSince   atomic.Int64 // unix nanoseconds of the first logged failure of the outage
	lastFailLog atomic.Int64 // unix nanoseconds of the last failure logged at warn/error
	staleMeta   atomic.Bool  // the partition count must be learnt again
}

// New builds the output from a validated config.
func New(cfg *Config, s pipeline.Stage) (*Output, error) {
	enc, err := codecs.ResolveEncoder(s, cfg.Codec)
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("output kafka: %w", err))
	}
	log := s.Log
	if log == nil {
		log = zap.NewNop()
	}
	o := &Output{
		cfg:      cfg,
		log:      log,
		enc:      enc,
		brokers:  strings.Join(cfg.Brokers, ","),
		sem:      make(chan struct{}, cfg.MaxInFlight),
		encoders: make(chan *batchEncoder, cfg.MaxInFlight),
	}
	o.maxMsg.Store(int64(cfg.maxMessageBytes))
	o.batchBytes.Store(int64(cfg.batchBytes))
	if o.cutEnc, err = codecs.ResolveEncoder(s, cfg.Codec); err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("output kafka: %w", err))
	}
	if cfg.PartitionKey != "" {
		t, err := codecs.ParseTemplate(cfg.PartitionKey)
		if err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("output kafka: partition_key: %w", err))
		}
		o.key = t.WithAgent(s.Agent)
	}
	o.transport = &kafka.Transport{
		ClientID:    cfg.ClientID,
		DialTimeout: min(cfg.timeout, 10*time.Second),
		IdleTimeout: 5 * time.Minute,
		MetadataTTL: 3 * time.Second,
		// Only our topic: metadata of big clusters stays small.
		MetadataTopics: []string{cfg.Topic},
	}
	if err := secure(cfg, o.transport, log); err != nil {
		return nil, err
	}
	o.client = &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: cfg.timeout, Transport: o.transport}
	o.metrics = newOutputMetrics()
	if err := s.Registerer().Register(o.metrics); err != nil {
		return nil, fmt.Errorf("output kafka: register metrics: %w", err)
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	o.lingerTimer = time.AfterFunc(time.Hour, o.lingerFlush)
	o.lingerTimer.Stop()
	return o, nil
}

// Start checks once that the brokers answer and the topic exists, and logs what it finds. It
// never fails: a missing topic or an unreachable cluster is retried by Write.
func (o *Output) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(o.cfg.timeout, 10*time.Second))
	defer cancel()
	n, err := o.fetchPartitions(ctx)
	if err != nil {
		o.log.Error("kafka output cannot start producing yet; it keeps retrying", zap.Error(err))
		return nil
	}
	o.mu.Lock()
	o.nparts, o.metaAt = n, time.Now()
	o.mu.Unlock()
	o.learnTopicLimit(ctx)
	o.log.Info("kafka output ready", zap.String("brokers", o.brokers), zap.String("topic", o.cfg.Topic), zap.Int("partitions", n))
	return nil
}

// limitRetry is how often the lookup of the topic's max.message.bytes is retried while
// it is unknown (the cluster was unreachable at start, or an ACL forbids DescribeConfigs).
const limitRetry = 30 * time.Second

// learnTopicLimit asks the cluster for the topic's max.message.bytes, the largest record
// batch it accepts, and lowers max_message_bytes and batch_bytes to it, so that an event
// larger than the topic accepts is cut and flagged rather than rejected. It reports whether
// the limit is known now. A cluster that does not answer (or an ACL that forbids
// DescribeConfigs) leaves the limits as they are; the lookup is retried later (see
// maybeLearnTopicLimit), and a MESSAGE_TOO_LARGE answer teaches a limit meanwhile.
func (o *Output) learnTopicLimit(ctx context.Context) bool {
	res, err := o.client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: o.cfg.Topic, ConfigNames: []string{"max.message.bytes"}}}})
	if err != nil {
		// Not answered (the cluster is unreachable): asked again after the next
		// successful produce request (at most every limitRetry, see maybeLearnTopicLimit).
		o.log.Debug("cannot read the topic's max.message.bytes; trying again later", zap.String("topic", o.cfg.Topic), zap.Error(err))
		return false
	}
	// Answered: if refused (an ACL), asked again at most every limitRetry.
	o.limitTriedAt.Store(time.Now().UnixNano())
	limit := 0
	for _, r := range res.Resources {
		if r.Error != nil {
			o.log.Debug("cannot read the topic's max.message.bytes; trying again later", zap.String("topic", o.cfg.Topic), zap.Error(r.Error))
			continue
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "max.message.bytes" {
				limit, _ = strconv.Atoi(e.ConfigValue)
			}
		}
	}
	if limit < 1024 {
		return false
	}
	o.limitKnown.Store(true)
	if o.lowerLimits(limit, limit) {
		o.log.Warn("the topic accepts smaller messages than max_message_bytes: larger events are cut to the topic's limit",
			zap.String("topic", o.cfg.Topic), zap.Int("max.message.bytes", limit), zap.Int("max_message_bytes", o.cfg.maxMessageBytes))
	}
	return true
}

// lowerLimits lowers max_message_bytes to msg and batch_bytes to batch where they are
// larger, and reports whether max_message_bytes changed.
func (o *Output) lowerLimits(msg, batch int) bool {
	lowered := false
	for {
		cur := o.maxMsg.Load()
		if int64(msg) >= cur {
			break
		}
		if o.maxMsg.CompareAndSwap(cur, int64(msg)) {
			lowered = true
			break
		}
	}
	for {
		cur := o.batchBytes.Load()
		if int64(batch) >= cur || o.batchBytes.CompareAndSwap(cur, int64(batch)) {
			break
		}
	}
	return lowered
}

// maybeLearnTopicLimit starts a background lookup of the topic's max.message.bytes while it
// is unknown, at most every limitRetry (the first one at once if the lookup at start got no
// answer). Called after a produce request succeeded (the cluster answers now).
func (o *Output) maybeLearnTopicLimit() {
	if o.limitKnown.Load() || time.Now().UnixNano()-o.limitTriedAt.Load() < int64(limitRetry) || !o.limitBusy.CompareAndSwap(false, true) {
		return
	}
	// Paced even when the lookup gets no answer (a broker without DescribeConfigs, a
	// timeout): not one lookup per produce request.
	o.limitTriedAt.Store(time.Now().UnixNano())
	o.bg.Add(1)
	go func() {
		defer o.bg.Done()
		defer o.limitBusy.Store(false)
		ctx, cancel := context.WithTimeout(o.ctx, min(o.cfg.timeout, 10*time.Second))
		defer cancel()
		if o.learnTopicLimit(ctx) {
			o.log.Info("learnt the topic's max.message.bytes", zap.String("topic", o.cfg.Topic),
				zap.Int64("max_message_bytes", o.maxMsg.Load()), zap.Int64("batch_bytes", o.batchBytes.Load()))
		}
	}()
}

// errTopicMissing classifies a missing topic.
var errTopicMissing = errors.New("topic does not exist")

// fetchPartitions asks the cluster how many partitions the topic has.
func (o *Output) fetchPartitions(ctx context.Context) (int, error) {
	res, err := o.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{o.cfg.Topic}})
	if err != nil {
		return 0, o.connError(err)
	}
	for _, t := range res.Topics {
		if t.Name != o.cfg.Topic {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				return 0, o.topicMissing()
			}
			return 0, fmt.Errorf("metadata of topic %q from %s: %w", o.cfg.Topic, o.brokers, t.Error)
		}
		if len(t.Partitions) == 0 {
			return 0, o.topicMissing()
		}
		return len(t.Partitions), nil
	}
	return 0, o.topicMissing()
}

func (o *Output) topicMissing() error {
	return fmt.Errorf("%w: topic %q is not on the Kafka cluster at %s: create it (for example `kafka-topics.sh --create --topic %s --partitions 3`, or `logpipe setup -c index.hcl --topic` with the indexer's configuration); logpipe never creates topics implicitly and keeps retrying: %w",
		errTopicMissing, o.cfg.Topic, o.brokers, o.cfg.Topic, kafka.UnknownTopicOrPartition)
}

// errUnreachable classifies a failure to talk to the brokers.
var errUnreachable = errors.New("cannot reach the Kafka brokers")

func (o *Output) connError(err error) error {
	var ke kafka.Error
	if errors.As(err, &ke) {
		return fmt.Errorf("kafka brokers %s: %w", o.brokers, err)
	}
	// Anything that is not a Kafka error code is a failure to talk to the brokers: refused or
	// reset connections, EOF, timeouts, DNS.
	return fmt.Errorf("%w %s (check that they run, that this host can connect to them, and the brokers attribute): %w", errUnreachable, o.brokers, err)
}

// guessedMaxAge is how long a guessed partition count (1, while the cluster does not
// answer) is used before asking again.
const guessedMaxAge = 2 * time.Second

// partitions returns the topic's partition count, from metadata at most metadataMaxAge old.
// Called with o.mu held.
//
// While the count is unknown (the cluster is unreachable or the topic missing), unkeyed
// events go to partition 0, which every topic has, so Write keeps filling record batches
// whose produce requests retry (and max_in_flight stalls the input as usual); the count is
// asked again every 2 s. With partition_key the count decides where each key goes, so Write
// waits (retrying, unlocked) until it is known.
func (o *Output) partitions(ctx context.Context) (int, error) {
	if o.staleMeta.Swap(false) {
		o.metaAt = time.Time{}
	}
	age := metadataMaxAge
	if o.guessed {
		age = guessedMaxAge
	}
	if o.nparts > 0 && time.Since(o.metaAt) < age {
		return o.nparts, nil
	}
	if o.nparts > 0 || o.key == nil {
		// Ask without blocking production for long: keep (or guess) the count on failure.
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		n, err := o.fetchPartitions(qctx)
		cancel()
		o.metaAt = time.Now()
		switch {
		case err == nil:
			o.nparts, o.guessed = n, false
		case o.nparts == 0:
			o.nparts, o.guessed = 1, true
			o.log.Warn("kafka partition count unknown; sending to partition 0 until the cluster answers",
				zap.String("topic", o.cfg.Topic), zap.String("brokers", o.brokers), zap.Error(err))
		}
		return o.nparts, nil
	}
	o.mu.Unlock()
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(o.ctx, cancel)
	var n int
	err := pipeline.Retry(rctx, retryBackoff, o.onRetry("metadata", -1), func(ctx context.Context) error {
		qctx, cancel := context.WithTimeout(ctx, o.cfg.timeout)
		defer cancel()
		var err error
		n, err = o.fetchPartitions(qctx)
		return err
	})
	stop()
	cancel()
	o.mu.Lock()
	if err != nil {
		return 0, err
	}
	o.recovered()
	o.nparts, o.metaAt, o.guessed = n, time.Now(), false
	return n, nil
}

// onRetry logs failed attempts without flooding: the first failure of an outage is logged
// (as an error when the topic is missing, else a warning), then a reminder at most every
// 30 s while it lasts; the other attempts are logged at debug level. The first success after
// an outage is logged by recovered.
func (o *Output) onRetry(what string, partition int) func(int, error, time.Duration) {
	return func(attempt int, err error, delay time.Duration) {
		fields := []zap.Field{zap.String("topic", o.cfg.Topic), zap.String("brokers", o.brokers),
			zap.Int("attempt", attempt), zap.Duration("retry_in", delay), zap.Error(err)}
		if partition >= 0 {
			fields = append(fields, zap.Int("partition", partition))
		}
		now := time.Now().UnixNano()
		wasFailing := o.failing.Swap(true)
		if !wasFailing {
			o.failSince.Store(now)
		}
		last := o.lastFailLog.Load()
		if wasFailing && now-last < int64(30*time.Second) || !o.lastFailLog.CompareAndSwap(last, now) {
			o.log.Debug("kafka "+what+" failed; retrying", fields...)
			return
		}
		if errors.Is(err, errTopicMissing) {
			o.log.Error("kafka topic is missing; events wait (and inputs are stalled) until it exists", fields...)
			return
		}
		o.log.Warn("kafka "+what+" failed; retrying until it succeeds (inputs are stalled meanwhile)", fields...)
	}
}

// recovered logs the end of an outage.
func (o *Output) recovered() {
	if !o.failing.Load() || !o.failing.Swap(false) {
		return
	}
	since := o.failSince.Swap(0)
	o.lastFailLog.Store(0)
	fields := []zap.Field{zap.String("topic", o.cfg.Topic), zap.String("brokers", o.brokers)}
	if since != 0 {
		fields = append(fields, zap.Duration("outage", time.Duration(time.Now().UnixNano()-since)))
	}
	o.log.Info("kafka produce succeeds again", fields...)
}

// Write encodes the batch's events into per-partition record batches and sends the full
// ones. It blocks while max_in_flight requests are in flight.
func (o *Output) Write(ctx context.Context, b *pipeline.Batch) error {
	if b.Len() == 0 {
		b.Ack()
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return errors.New("output kafka: Write after Close")
	}
	n, err := o.partitions(ctx)
	if err != nil {
		return err
	}
	if len(o.open) < n {
		o.open = append(o.open, make([]*chunk, n-len(o.open))...)
	}
	pb := &pendingBatch{b: b}
	pb.left.Store(1) // held by this Write until every event is placed
	if o.advance {
		o.next, o.advance = (o.next+1)%n, false
	}
	o.next %= n
	p := o.next
	for i := range b.Events {
		e := &b.Events[i]
		keyLen := 0
		if o.key != nil {
			o.keyBuf = o.key.Append(o.keyBuf[:0], e)
			p = partitionFor(o.keyBuf, n)
			c := o.chunkFor(p)
			c.buf = append(c.buf, o.keyBuf...)
			keyLen = len(o.keyBuf)
		}
		if err := o.add(ctx, p, pb, e, keyLen); err != nil {
			return err
		}
	}
	if pb.left.Add(-1) == 0 {
		b.Ack()
	}
	if o.cfg.linger == 0 {
		return o.flushAll(ctx)
	}
	if !o.lingerArmed && o.hasOpen() {
		o.lingerArmed = true
		o.lingerTimer.Reset(o.cfg.linger)
	}
	return nil
}

func (o *Output) hasOpen() bool {
	for _, c := range o.open {
		if c != nil && len(c.recs) > 0 {
			return true
		}
	}
	return false
}

// chunkFor returns the open record batch of partition p, creating it.
func (o *Output) chunkFor(p int) *chunk {
	if c := o.open[p]; c != nil {
		return c
	}
	var c *chunk
	o.freeMu.Lock()
	if n := len(o.free); n > 0 {
		c = o.free[n-1]
		o.free = o.free[:n-1]
	}
	o.freeMu.Unlock()
	if c == nil {
		// Sized for a full record batch and a line beyond it: filling it copies nothing.
		c = &chunk{buf: make([]byte, 0, o.batchBytes.Load()+chunkSlack)}
	}
	c.partition = p
	o.open[p] = c
	return c
}

// add encodes e (whose key, keyLen bytes, was just appended to the partition's chunk) into
// the record batch of partition p, cutting it to max_message_bytes, and sends the record
// batch when it is full.
func (o *Output) add(ctx context.Context, p int, pb *pendingBatch, e *pipeline.Event, keyLen int) error {
	c := o.chunkFor(p)
	kstart := len(c.buf) - keyLen
	vstart := len(c.buf)
	c.buf = o.enc.Encode(c.buf, e)
	if maxMsg := int(o.maxMsg.Load()); len(c.buf)-kstart+recordOverhead > maxMsg {
		c.buf = encodeCut(o.enc, c.buf[:vstart], e, maxMsg-recordOverhead-keyLen)
	}
	var ts int64 // 0: the broker's time
	if !e.Timestamp.IsZero() {
		ts = e.Timestamp.UnixMilli()
	}
	c.recs = append(c.recs, record{keyStart: int32(kstart), valStart: int32(vstart), end: int32(len(c.buf)), ts: ts, ev: e})
	if n := len(c.refs); n == 0 || c.refs[n-1].pb != pb {
		c.refs = append(c.refs, ref{pb: pb})
		pb.left.Add(1)
	}
	batchBytes := int(o.batchBytes.Load())
	if len(c.recs) > 1 && c.wireSize() > batchBytes {
		// The new record overflows the batch: send the others, move it to a fresh chunk.
		last := c.recs[len(c.recs)-1]
		c.recs = c.recs[:len(c.recs)-1]
		moved := c.buf[last.keyStart:last.end]
		o.open[p] = nil
		nc := o.chunkFor(p)
		nc.buf = append(nc.buf, moved...)
		shift := last.keyStart
		nc.recs = append(nc.recs, record{keyStart: 0, valStart: last.valStart - shift, end: last.end - shift, ts: last.ts, ev: last.ev})
		nc.refs = append(nc.refs, ref{pb: pb})
		pb.left.Add(1)
		c.buf = c.buf[:last.keyStart]
		if err := o.send(ctx, c); err != nil {
			return err
		}
		c = nc
	}
	if len(c.recs) >= o.cfg.BatchEvents || c.wireSize() >= batchBytes {
		o.open[p] = nil
		return o.send(ctx, c)
	}
	return nil
}

// encodeCut encodes e with its message cut so that the encoded event fits in limit bytes,
// flagged as truncated. A document event that is too large becomes a line event whose
// message is the start of the document's JSON text: cut, but never dropped.
func encodeCut(enc pipeline.Encoder, dst []byte, e *pipeline.Event, limit int) []byte {
	ev := *e
	ev.Flags |= pipeline.FlagTruncated
	if ev.Doc != nil {
		ev.Message = ev.Doc
		ev.SetDoc(nil)
	}
	start := len(dst)
	msg := ev.Message
	fits := func(n int) bool {
		ev.Message = msg[:n]
		dst = enc.Encode(dst[:start], &ev)
		return len(dst)-start <= limit
	}
	// An encoded message is never shorter than the raw one: the longest prefix that fits is
	// at most limit bytes. Binary search for it (a rare path: about 20 encodings).
	lo, hi := 0, min(len(msg), limit)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	for lo > 0 && lo < len(msg) && !utf8.RuneStart(msg[lo]) {
		lo--
	}
	fits(lo)
	return dst
}

// lingerFlush sends the partly filled record batches once linger passed.
func (o *Output) lingerFlush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lingerArmed = false
	if o.closed {
		return
	}
	_ = o.flushAll(o.ctx)
}

// flushAll sends every open record batch. Called with o.mu held.
func (o *Output) flushAll(ctx context.Context) error {
	for p, c := range o.open {
		if c == nil || len(c.recs) == 0 {
			continue
		}
		o.open[p] = nil
		if err := o.send(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// send starts the produce request of c once a slot is free (blocking until then).
func (o *Output) send(ctx context.Context, c *chunk) error {
	if o.key == nil && c.partition == o.next {
		o.advance = true
	}
	select {
	case o.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-o.ctx.Done():
		return o.ctx.Err()
	}
	o.wg.Add(1)
	go o.produceChunk(c)
	return nil
}

// produceChunk produces c until Kafka acknowledges it (or the output gives up at Close),
// then acknowledges the pipeline batches whose last outstanding record batch it was.
func (o *Output) produceChunk(c *chunk) {
	defer o.wg.Done()
	reusable := true
	// Ranges of records still to send: the whole chunk, split in halves when Kafka rejects a
	// record batch as too large.
	todo := []span{{0, len(c.recs)}}
	var err error
	for len(todo) > 0 && err == nil {
		sp := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		err = pipeline.Retry(o.ctx, retryBackoff, o.onRetry("produce", c.partition), func(ctx context.Context) error {
			began := time.Now()
			err := o.produce(ctx, c, sp)
			o.metrics.latency.Observe(time.Since(began).Seconds())
			if err != nil && ctx.Err() == nil {
				// Sent again: as it is, or split or cut (below).
				o.metrics.errors.WithLabelValues(errorReason(err)).Inc()
				o.metrics.retries.Inc()
			}
			if errors.Is(err, errTooLarge) {
				if sp.hi-sp.lo > 1 {
					// Kafka's limit is below this record batch: split it, and send smaller
					// record batches from now on.
					o.lowerLimits(int(o.maxMsg.Load()), max(c.spanWireSize(sp)/2, minMessageBytes))
					mid := (sp.lo + sp.hi) / 2
					todo = append(todo, span{mid, sp.hi}, span{sp.lo, mid})
					return nil
				}
				if o.shrinkRecord(ctx, c, sp.lo) {
					// Send the cut record at once (encoded again: the record changed).
					c.wireOK = false
					todo = append(todo, sp)
					return nil
				}
			}
			if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
				// The transport may still be reading the record batch of the abandoned
				// attempt: it is not written over (a retry of the same span sends it as
				// it is), and the chunk is not recycled.
				reusable = false
				c.wireShared = true
			}
			return err
		})
	}
	// The request slot is released before the acknowledgements: Write may hold o.mu
	// waiting for it.
	<-o.sem
	if err != nil {
		o.log.Warn("kafka record batch abandoned at shutdown; its lines are sent again after restart",
			zap.Int("partition", c.partition), zap.Int("records", len(c.recs)), zap.Error(err))
		return
	}
	o.recovered()
	o.maybeLearnTopicLimit()
	o.metrics.records.Add(float64(len(c.recs)))
	o.metrics.bytes.Add(float64(c.recordBytes()))
	for _, r := range c.refs {
		if r.pb.left.Add(-1) == 0 {
			r.pb.b.Ack()
		}
	}
	if !reusable {
		return
	}
	c.reset()
	o.freeMu.Lock()
	if len(o.free) < 2*cap(o.sem) {
		o.free = append(o.free, c)
	}
	o.freeMu.Unlock()
}

// errTooLarge classifies Kafka's rejection of a record batch or record as too large.
var errTooLarge = errors.New("too large")

// shrinkRecord handles Kafka's MESSAGE_TOO_LARGE answer for the single record i of c: it
// learns the topic's limit (from its max.message.bytes when the cluster tells it, else
// three quarters of the refused record's size), lowers max_message_bytes and batch_bytes
// to it, and encodes the record again, cut to the new limit and flagged truncated. It
// reports false when the record cannot be made smaller (it is already the smallest
// encoding of its event), in which case the request is retried with backoff and the
// error says what to change.
func (o *Output) shrinkRecord(ctx context.Context, c *chunk, i int) bool {
	r := c.recs[i]
	if r.ev == nil {
		return false
	}
	size := int(r.end-r.keyStart) + recordOverhead
	qctx, cancel := context.WithTimeout(ctx, min(o.cfg.timeout, 5*time.Second))
	known := o.learnTopicLimit(qctx)
	cancel()
	limit := int(o.maxMsg.Load())
	if !known || limit >= size {
		// The topic's limit is not readable, or is not what the broker enforces (its
		// message.max.bytes may be lower): it is below this record.
		limit = max(min(limit, size*3/4), minMessageBytes)
	}
	keyLen := int(r.valStart - r.keyStart)
	if limit-recordOverhead-keyLen <= 0 {
		return false
	}
	o.cutMu.Lock()
	start := len(c.buf)
	c.buf = append(c.buf, c.buf[r.keyStart:r.valStart]...)
	vstart := len(c.buf)
	c.buf = encodeCut(o.cutEnc, c.buf, r.ev, limit-recordOverhead-keyLen)
	o.cutMu.Unlock()
	if len(c.buf)-start >= int(r.end-r.keyStart) {
		c.buf = c.buf[:start]
		return false // no smaller encoding exists
	}
	c.recs[i] = record{keyStart: int32(start), valStart: int32(vstart), end: int32(len(c.buf)), ts: r.ts, ev: r.ev, cut: true}
	if !r.cut {
		o.metrics.cut.Inc()
	}
	if o.lowerLimits(limit, limit) {
		o.log.Warn("kafka refused a record as too large for the topic: max_message_bytes and batch_bytes lowered, larger events are cut and flagged",
			zap.String("topic", o.cfg.Topic), zap.Int("refused_bytes", size), zap.Int("max_message_bytes", limit),
			zap.Bool("from_topic_config", known))
	}
	return true
}

// span is a range [lo,hi) of a chunk's records.
type span struct{ lo, hi int }

// recordBatch returns the record batch of the records sp of c, encoded at the first attempt
// and kept in c for the retries.
func (o *Output) recordBatch(c *chunk, sp span) ([]byte, error) {
	if c.wireOK && c.wireSpan == sp {
		return c.wire, nil
	}
	if c.wireShared {
		// An abandoned attempt may still be reading the old bytes: encode into new ones.
		c.wire, c.wireShared = nil, false
	}
	var be *batchEncoder
	select {
	case be = <-o.encoders:
	default:
		be = &batchEncoder{}
	}
	var err error
	c.wire, err = be.encode(c.wire[:0], c, sp, o.cfg.compression, time.Now().UnixMilli())
	select {
	case o.encoders <- be:
	default:
	}
	if err != nil {
		c.wireOK = false
		return nil, err
	}
	c.wireOK, c.wireSpan = true, sp
	return c.wire, nil
}

// produce sends the records sp of c once.
func (o *Output) produce(ctx context.Context, c *chunk, sp span) error {
	wire, err := o.recordBatch(c, sp)
	if err != nil {
		return fmt.Errorf("encode a record batch for %s partition %d: %w", o.cfg.Topic, c.partition, err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.timeout+time.Second)
	defer cancel()
	res, err := o.client.RawProduce(ctx, &kafka.RawProduceRequest{
		Topic:        o.cfg.Topic,
		Partition:    c.partition,
		RequiredAcks: o.cfg.acks,
		RawRecords:   protocol.RawRecordSet{Reader: bytes.NewReader(wire)},
	})
	if err != nil {
		// kafka-go's transport reports a cluster it cannot get metadata from (refused
		// connections, failed TLS handshakes or SASL logins) as "topic not found" when it
		// routes the request: ask for the metadata to learn and report the real cause.
		if _, merr := o.fetchPartitions(ctx); merr != nil {
			if errors.Is(merr, errTopicMissing) {
				o.staleMeta.Store(true)
			}
			return merr
		}
		return o.connError(err)
	}
	if res == nil || res.Error == nil {
		return nil
	}
	if errors.Is(res.Error, kafka.UnknownTopicOrPartition) {
		o.staleMeta.Store(true) // re-learn the partitions
		return o.topicMissing()
	}
	if errors.Is(res.Error, kafka.MessageSizeTooLarge) || errors.Is(res.Error, kafka.RecordListTooLarge) {
		return fmt.Errorf("%w: kafka rejected a record batch of %d records as too large for topic %q: lower max_message_bytes and batch_bytes below the topic's max.message.bytes: %w",
			errTooLarge, sp.hi-sp.lo, o.cfg.Topic, res.Error)
	}
	return fmt.Errorf("produce to %s partition %d: %w", o.cfg.Topic, c.partition, res.Error)
}

// Close sends what is buffered and waits for in-flight requests until ctx ends; then it
// abandons the rest (never acknowledged, so read again after a restart).
func (o *Output) Close(ctx context.Context) error {
	o.mu.Lock()
	o.closed = true
	o.lingerTimer.Stop()
	err := o.flushAll(ctx)
	o.mu.Unlock()

	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("output kafka: %d produce requests still in flight at the drain deadline: %w", len(o.sem), ctx.Err()))
		o.cancel()
		<-done
	}
	o.cancel()
	o.bg.Wait()
	o.transport.CloseIdleConnections()
	return err
}

// pendingBatch counts the record batches (plus Write's own hold) a pipeline batch waits for.
type pendingBatch struct {
	b    *pipeline.Batch
	left atomic.Int32
}

// ref ties a record batch to a pipeline batch with events in it.
type ref struct{ pb *pendingBatch }

// record locates one record in its chunk's buffer: key at [keyStart,valStart), value at
// [valStart,end).
type record struct {
	keyStart, valStart, end int32
	ts                      int64           // milliseconds since the epoch
	ev                      *pipeline.Event // the event, to encode it again cut (valid until the batch is acknowledged)
	cut                     bool            // cut by shrinkRecord
}

// chunk is one partition's record batch: the keys and values of its records, back to back
// in one buffer.
type chunk struct {
	partition int
	buf       []byte
	recs      []record
	refs      []ref

	// wire is the encoded record batch of the records wireSpan when wireOK (see
	// recordBatch); wireShared: an abandoned attempt may still read it.
	wire       []byte
	wireSpan   span
	wireOK     bool
	wireShared bool
}

// batchOverhead and recordFraming estimate a record batch's size on the wire (uncompressed)
// beyond the keys and values: the batch header, and per record its length, attributes,
// timestamp and offset deltas, key and value lengths and header count (varints).
const (
	batchOverhead = 128
	recordFraming = 24
)

// wireSize estimates the uncompressed size of c's record batch.
func (c *chunk) wireSize() int { return batchOverhead + len(c.buf) + recordFraming*len(c.recs) }

// recordBytes is the size of c's keys and values.
func (c *chunk) recordBytes() int {
	n := 0
	for _, r := range c.recs {
		n += int(r.end - r.keyStart)
	}
	return n
}

// spanWireSize estimates the uncompressed size of a record batch of the records sp of c.
func (c *chunk) spanWireSize(sp span) int {
	n := batchOverhead
	for _, r := range c.recs[sp.lo:sp.hi] {
		n += int(r.end-r.keyStart) + recordFraming
	}
	return n
}

func (c *chunk) reset() {
	c.buf = c.buf[:0]
	c.wire, c.wireOK = c.wire[:0], false
	clear(c.recs) // drop the event pointers
	c.recs = c.recs[:0]
	clear(c.refs)
	c.refs = c.refs[:0]
}
