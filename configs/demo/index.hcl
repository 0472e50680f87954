# Demo indexer: consumes kafka_test as group test123, parses Apache access lines, and writes one
# NDJSON file per daily index (filebeat_test-YYYY.MM.dd) instead of Elasticsearch, plus a
# rubydebug dump on stdout. `make demo` sets the environment; see e2e/demo.
data_dir = "${env("LOGPIPE_DEMO_DIR")}/index"
drain_timeout = "10s"

logging {
  level = "info"
}

input "kafka" "main" {
  brokers      = [env("LOGPIPE_DEMO_BROKER", "127.0.0.1:9092")]
  topics       = ["kafka_test"]
  group_id     = "test123"
  start_offset = "earliest"
}

filter "apache" "access" {
  field = "message"
}

output "file" "indices" {
  path = "${env("LOGPIPE_DEMO_DIR")}/indices/filebeat_test-%{+YYYY.MM.dd}.ndjson"
}

output "stdout" "debug" {
  codec = "rubydebug"
}
