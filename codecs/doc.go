// Package codecs turns events into bytes and back, and holds the small JSON toolkit the
// indexer's stages share.
//
// Codecs (registered with Register):
//   - "json": the wire format of DESIGN.md section 3. Its encoder writes a line event with an
//     appending, allocation-free encoder (constant parts precomputed per agent); its decoder
//     turns a Kafka record value into a document event, taking @metadata._id and @timestamp.
//   - "line": the message followed by "\n".
//   - "rubydebug": Logstash's readable multi-line dump, for debugging outputs.
//
// Templates (ParseTemplate) render Logstash-style "%{+YYYY.MM.dd}" and "%{[field]}" strings
// for the file output's path, the Elasticsearch index and the Kafka partition key.
//
// The JSON toolkit (Lookup, AppendUnquoted, AppendQuoted, AppendTimestamp, ParseTimestamp,
// RemoveMember, SetMember, MergeObject, AppendTag, ValidObject) works on raw JSON bytes
// without maps or reflection; see json_scan.go for its conventions.
package codecs

// Constant values of the wire format.
const (
	beatName   = "logpipe"    // agent.type and @metadata.beat
	ecsVersion = "8.0.0"      // ecs.version
	inputType  = "filestream" // input.type, as Filebeat 9 writes it
)
