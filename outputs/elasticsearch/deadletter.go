package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/logpipe/logpipe/codecs"
	"github.com/segmentio/kafka-go"
)

// deadLetterQueue durably stores entries of documents Elasticsearch rejected for good.
//
// write stores NDJSON entries (each a JSON object followed by "\n") and returns nil only
// once they are durable (fsynced, or acknowledged by every Kafka replica); the batches of the
// documents are acknowledged after that. It is safe for concurrent use.
type deadLetterQueue interface {
	write(ctx context.Context, entries []byte) error
	close() error
	String() string
}

// appendEntry appends one dead-letter entry:
//
//	{"@timestamp":"<when>","stage":"<stage id>","index":"<_index>","id":"<_id>","status":400,
//	 "error":{"type":"document_parsing_exception","reason":"..."},"attempts":1,"document":{...}}
//
// document is the document as it was sent (a JSON object), or a JSON string holding its
// text when it is not valid JSON.
func appendEntry(dst []byte, now time.Time, stage, index, id string, status int, typ, reason string, attempts int, doc []byte) []byte {
	dst = append(dst, `{"@timestamp":"`...)
	dst = codecs.AppendTimestamp(dst, now)
	dst = append(dst, `","stage":`...)
	dst = codecs.AppendQuotedString(dst, stage)
	dst = append(dst, `,"index":`...)
	dst = codecs.AppendQuotedString(dst, index)
	dst = append(dst, `,"id":`...)
	dst = codecs.AppendQuotedString(dst, id)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, `,"error":{"type":`...)
	dst = codecs.AppendQuotedString(dst, typ)
	dst = append(dst, `,"reason":`...)
	dst = codecs.AppendQuotedString(dst, reason)
	dst = append(dst, `},"attempts":`...)
	dst = strconv.AppendInt(dst, int64(attempts), 10)
	dst = append(dst, `,"document":`...)
	if codecs.ValidObject(doc) {
		dst = append(dst, doc...)
	} else {
		dst = codecs.AppendQuoted(dst, doc)
	}
	return append(dst, "}\n"...)
}

// fileDLQ appends entries to a file.
type fileDLQ struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func newFileDLQ(path string) (*fileDLQ, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("dead-letter directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	return &fileDLQ{path: path, f: f}, nil
}

func (q *fileDLQ) write(_ context.Context, entries []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, err := q.f.Write(entries); err != nil {
		return fmt.Errorf("writing dead-letter file %s: %w", q.path, err)
	}
	if err := q.f.Sync(); err != nil {
		return fmt.Errorf("syncing dead-letter file %s: %w", q.path, err)
	}
	return nil
}

func (q *fileDLQ) close() error { return q.f.Close() }

func (q *fileDLQ) String() string { return q.path }

// kafkaDLQ produces entries to a Kafka topic, one record per entry, with acks from all
// in-sync replicas.
type kafkaDLQ struct {
	w *kafka.Writer
}

func newKafkaDLQ(brokers []string, topic string) *kafkaDLQ {
	return &kafkaDLQ{w: &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		Balancer:     &kafka.LeastBytes{},
		BatchTimeout: 10 * time.Millisecond,
		MaxAttempts:  1, // the output retries with its own backoff
	}}
}

func (q *kafkaDLQ) write(ctx context.Context, entries []byte) error {
	var msgs []kafka.Message
	for len(entries) > 0 {
		i := bytes.IndexByte(entries, '\n')
		if i < 0 {
			i = len(entries)
		}
		msgs = append(msgs, kafka.Message{Value: entries[:i]})
		entries = entries[min(i+1, len(entries)):]
	}
	if err := q.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("producing dead-letter entries to %s: %w", q.w.Topic, err)
	}
	return nil
}

func (q *kafkaDLQ) close() error {
	err := q.w.Close()
	if t, ok := q.w.Transport.(*kafka.Transport); ok { // set by newDeadLetterKafka (tls/sasl)
		t.CloseIdleConnections()
	}
	return err
}

func (q *kafkaDLQ) String() string { return "kafka topic " + q.w.Topic }
