// Package elasticsearch is the output "elasticsearch": it writes events to Elasticsearch 8.x
// with the _bulk API, exactly once per event.
//
// Each event becomes one `create` action whose _id is the event's id (@metadata._id), or
// for Kafka records without one "<topic>-<partition>-<offset>", so a redelivered event is
// answered 409 version_conflict_engine_exception, which counts as success. The document is
// the event without @metadata, passed through as bytes.
//
// The output builds the NDJSON body itself (appending, no per-document maps) and reads only
// the status and error of each item from the answer. Items answered 429 or 5xx are retried
// with capped exponential backoff and jitter, alone; a whole request answered 429/5xx or
// lost to a connection error is retried; items rejected for good (400 mapping conflicts,
// invalid index names, a document above the server's http.max_content_length) are written
// to a dead-letter queue with their error type and reason. A pipeline batch is acknowledged
// once each of its documents is stored, a duplicate or durably dead-lettered.
//
// HTTP goes through go-elasticsearch's transport: round-robin over the hosts, a host that
// fails to connect is set aside and retried later, and the X-Elastic-Product product check.
package elasticsearch
