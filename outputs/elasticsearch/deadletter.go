package elasticsearch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/logpipe/logpipe/codecs"
	"github.com/segmentio/kafka-go"
)

// deadLetterQueue durably stores entries of documents Elasticsearch rejected for good.
//
// write stores NDJSON entries (each a JSON object followed by "\n") and returns nil only
// once they are durable (fsynced, or acknowledged by every Kafka replica); the batches of the
// documents are acknowledged after that. An error means that nothing needs to be kept of this
// call: the caller retries the same entries, rebuilt with the current maxEntry. maxEntry is
// the largest entry (with its newline) the queue takes, 0 for no limit: entries above it are
// cut (appendEntry). It is safe for concurrent use.
type deadLetterQueue interface {
	write(ctx context.Context, entries []byte) error
	maxEntry() int
	close() error
	String() string
}

// deadLetterEntry is what an entry says about one rejected document.
type deadLetterEntry struct {
	now              time.Time
	stage, index, id string
	status           int
	typ, reason      string
	attempts         int
	topic            string // origin, for documents read from Kafka ("" otherwise)
	partition        int32
	offset           int64
	doc              []byte
}

// maxCutReason is the length a reason is cut to in an entry that must be cut.
const maxCutReason = 4 << 10

// appendEntry appends one dead-letter entry:
//
//	{"@timestamp":"<when>","stage":"<stage id>","index":"<_index>","id":"<_id>","status":400,
//	 "error":{"type":"document_parsing_exception","reason":"..."},"attempts":1,
//	 "origin":{"topic":"<topic>","partition":3,"offset":1234},"document":{...}}
//
// origin is present for documents read from Kafka. document is the document as it was sent
// (a JSON object), or a JSON string holding its text when it is not valid JSON.
//
// When limit > 0 and the entry would be longer than limit bytes (newline included), it is cut:
// the reason is cut to 4 KiB (or a quarter of limit), document becomes a JSON string holding as much of the start of
// the document as fits (whole UTF-8 characters), and "document_truncated":true and
// "document_bytes":<size of the whole document> are added. appendEntry reports whether it cut.
func appendEntry(dst []byte, e *deadLetterEntry, limit int) ([]byte, bool) {
	start := len(dst)
	dst = appendEntryHead(dst, e, e.reason)
	if codecs.ValidObject(e.doc) {
		dst = append(dst, e.doc...)
	} else {
		dst = codecs.AppendQuoted(dst, e.doc)
	}
	dst = append(dst, "}\n"...)
	if limit <= 0 || len(dst)-start <= limit {
		return dst, false
	}
	dst = dst[:start]
	reason := e.reason
	if rmax := min(maxCutReason, limit/4); len(reason) > rmax {
		reason = reason[:utf8Prefix([]byte(reason), rmax)] + "..."
	}
	dst = appendEntryHead(dst, e, reason)
	dst = append(dst[:len(dst)-len(`"document":`)], `"document_truncated":true,"document_bytes":`...)
	dst = strconv.AppendInt(dst, int64(len(e.doc)), 10)
	dst = append(dst, `,"document":`...)
	head := len(dst)
	keep := limit - (head - start) - len(`""}`+"\n")
	for {
		k := utf8Prefix(e.doc, max(keep, 0))
		dst = codecs.AppendQuoted(dst[:head], e.doc[:k])
		dst = append(dst, "}\n"...)
		over := len(dst) - start - limit
		if over <= 0 || k == 0 {
			return dst, true
		}
		keep = k - over
	}
}

// appendEntryHead appends an entry up to and including `"document":`.
func appendEntryHead(dst []byte, e *deadLetterEntry, reason string) []byte {
	dst = append(dst, `{"@timestamp":"`...)
	dst = codecs.AppendTimestamp(dst, e.now)
	dst = append(dst, `","stage":`...)
	dst = codecs.AppendQuotedString(dst, e.stage)
	dst = append(dst, `,"index":`...)
	dst = codecs.AppendQuotedString(dst, e.index)
	dst = append(dst, `,"id":`...)
	dst = codecs.AppendQuotedString(dst, e.id)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(e.status), 10)
	dst = append(dst, `,"error":{"type":`...)
	dst = codecs.AppendQuotedString(dst, e.typ)
	dst = append(dst, `,"reason":`...)
	dst = codecs.AppendQuotedString(dst, reason)
	dst = append(dst, `},"attempts":`...)
	dst = strconv.AppendInt(dst, int64(e.attempts), 10)
	if e.topic != "" {
		dst = append(dst, `,"origin":{"topic":`...)
		dst = codecs.AppendQuotedString(dst, e.topic)
		dst = append(dst, `,"partition":`...)
		dst = strconv.AppendInt(dst, int64(e.partition), 10)
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, e.offset, 10)
		dst = append(dst, '}')
	}
	return append(dst, `,"document":`...)
}

// utf8Prefix returns the length of the longest prefix of b, at most n bytes, that does not
// end inside a UTF-8 sequence.
func utf8Prefix(b []byte, n int) int {
	if n >= len(b) {
		return len(b)
	}
	for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return n
}

// kafkaDLQ produces entries to a Kafka topic, one record per entry, with acks from all
// in-sync replicas.
//
// An entry must fit in one record batch below the topic's max.message.bytes: entries are cut
// to maxEntry, derived from the dead_letter block's max_message_bytes, lowered to the topic's
// max.message.bytes read with DescribeConfigs before the first write. When the broker still
// answers MESSAGE_TOO_LARGE (the topic allows less), the limit is read again, or halved (down
// to 4 KiB) when the cluster does not tell it, and the write fails, so that the caller
// rebuilds the entries with the new limit: an oversize entry is never retried as it is.
type kafkaDLQ struct {
	mu     sync.Mutex // serialises writes and the replacement of w
	w      *kafka.Writer
	limit  atomic.Int64 // the topic's max.message.bytes as far as known
	learnt bool         // the topic's limit was read (or the cluster refused to tell)
	topic  string
	log    *zap.Logger
}

// kafkaRecordOverhead is room left for the record batch header and the record's own framing.
const kafkaRecordOverhead = 1 << 10

// minKafkaLimit is the lowest limit learnt from MESSAGE_TOO_LARGE answers.
const minKafkaLimit = 4 << 10

func newKafkaDLQ(brokers []string, topic string, maxMessage int, log *zap.Logger) *kafkaDLQ {
	q := &kafkaDLQ{log: log, topic: topic}
	q.limit.Store(int64(maxMessage))
	q.w = q.writer(kafka.TCP(brokers...), topic, nil)
	return q
}

func (q *kafkaDLQ) writer(addr net.Addr, topic string, t kafka.RoundTripper) *kafka.Writer {
	return &kafka.Writer{
		Addr:         addr,
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		Balancer:     &kafka.LeastBytes{},
		BatchTimeout: 10 * time.Millisecond,
		BatchBytes:   q.limit.Load() - kafkaRecordOverhead/2,
		MaxAttempts:  1, // the output retries with its own backoff
		Transport:    t,
	}
}

func (q *kafkaDLQ) maxEntry() int { return int(q.limit.Load()) - kafkaRecordOverhead }

func (q *kafkaDLQ) write(ctx context.Context, entries []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var msgs []kafka.Message
	for len(entries) > 0 {
		i := bytes.IndexByte(entries, '\n')
		if i < 0 {
			i = len(entries)
		}
		msgs = append(msgs, kafka.Message{Value: entries[:i]})
		entries = entries[min(i+1, len(entries)):]
	}
	if !q.learnt {
		n, ok, answered := q.topicLimit(ctx)
		q.learnt = answered // an ACL refusal is not asked again before each write
		if ok {
			if int64(n) < q.limit.Load() {
				q.lower(int64(n), "the dead-letter topic's max.message.bytes is below max_message_bytes; entries are cut to it")
				return fmt.Errorf("the dead-letter topic %s accepts at most %d bytes per message: entries are built again", q.topic, n)
			}
		}
	}
	err := q.w.WriteMessages(ctx, msgs...)
	if err == nil {
		return nil
	}
	if tooLarge(err) {
		n, ok, _ := q.topicLimit(ctx)
		if !ok || int64(n) >= q.limit.Load() {
			n = int(q.limit.Load() / 2)
		}
		q.lower(max(int64(n), minKafkaLimit), "the dead-letter topic refused an entry as too large; entries are now cut to a lower size")
	}
	return fmt.Errorf("producing dead-letter entries to %s: %w", q.topic, err)
}

// lower sets a lower limit and replaces the writer (its BatchBytes must not change while it
// is in use). q.mu is held.
func (q *kafkaDLQ) lower(n int64, why string) {
	old := q.limit.Load()
	if n >= old {
		return
	}
	q.limit.Store(n)
	w := q.writer(q.w.Addr, q.topic, q.w.Transport)
	_ = q.w.Close()
	q.w = w
	q.log.Warn(why, zap.String("topic", q.topic), zap.Int64("old_max_message_bytes", old), zap.Int64("max_message_bytes", n),
		zap.String("fix", "set dead_letter max_message_bytes to the topic's max.message.bytes"))
}

// topicLimit reads the topic's max.message.bytes (DescribeConfigs); ok is false when the
// cluster did not tell (unreachable, or an ACL forbids the request), answered when it
// answered at all.
func (q *kafkaDLQ) topicLimit(ctx context.Context) (n int, ok, answered bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: q.w.Addr, Transport: q.w.Transport, Timeout: 5 * time.Second}
	res, err := c.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: q.topic, ConfigNames: []string{"max.message.bytes"}}}})
	if err != nil {
		q.log.Debug("cannot read the dead-letter topic's max.message.bytes", zap.String("topic", q.topic), zap.Error(err))
		return 0, false, false
	}
	for _, r := range res.Resources {
		if r.Error != nil {
			q.log.Debug("cannot read the dead-letter topic's max.message.bytes", zap.String("topic", q.topic), zap.Error(r.Error))
			continue
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "max.message.bytes" {
				if n, err := strconv.Atoi(e.ConfigValue); err == nil && n >= minKafkaLimit {
					return n, true, true
				}
			}
		}
	}
	return 0, false, true
}

// tooLarge reports whether err says that a record was above a size limit, from kafka-go's
// writer (MessageTooLargeError) or from the broker (MESSAGE_TOO_LARGE).
func tooLarge(err error) bool {
	var mt kafka.MessageTooLargeError
	if errors.As(err, &mt) || errors.Is(err, kafka.MessageSizeTooLarge) {
		return true
	}
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil && tooLarge(e) {
				return true
			}
		}
	}
	return false
}

func (q *kafkaDLQ) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	err := q.w.Close()
	if t, ok := q.w.Transport.(*kafka.Transport); ok { // set by newDeadLetterKafka (tls/sasl)
		t.CloseIdleConnections()
	}
	return err
}

func (q *kafkaDLQ) String() string { return "kafka topic " + q.topic }
