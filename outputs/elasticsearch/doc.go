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
// with capped exponential backoff and jitter, alone; so are items answered 401/403 (missing
// index privileges, index blocks), which an operator can fix and which are never
// dead-lettered. A whole request answered 429/5xx/401/403 or lost to a connection error is
// retried; a whole request answered 400 or 413 is split in halves until the documents that
// cause it are alone. Items rejected for good (400 mapping conflicts, invalid index names, a
// document above the server's http.max_content_length) are written to a dead-letter queue
// with their error type and reason: a file with a size cap and rotation (a full queue holds
// the documents back rather than dropping them), or a Kafka topic (entries cut to the
// topic's message size). A pipeline batch is acknowledged once each of its documents is
// stored, a duplicate or durably dead-lettered.
//
// Every condition that holds documents back (requests failing, items refused, the
// dead-letter queue not taking entries, the template not installed) is logged once when it
// starts, with a reminder every 30 s and a line when it ends (outage.go); "ready" is logged
// once Elasticsearch answered.
//
// HTTP goes through go-elasticsearch's transport: round-robin over the hosts, a host that
// fails to connect is set aside and retried later, and the X-Elastic-Product product check.
package elasticsearch
