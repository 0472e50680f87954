# /etc/logpipe/index.hcl: logpipe index near Elasticsearch (unit logpipe-index.service).
# Consumes kafka_test as group test123, parses the Apache lines into ECS fields and indexes them
# into daily indices filebeat_test-YYYY.MM.dd. Run several indexers with the same group_id to
# share the partitions. Check it with `logpipe validate` and `logpipe test`; install the index
# template and the Kibana dashboard with `logpipe setup -c /etc/logpipe/index.hcl`.
# Secrets: write them as env("NAME") and put NAME=... in /etc/default/logpipe-index.

# Dead-letter queue and the agent id. Keep it equal to the unit's StateDirectory
# (/var/lib/logpipe/index): the unit can write nowhere else.
data_dir = "/var/lib/logpipe/index"

# Prometheus /metrics, /healthz, /readyz (the shipper uses 9601).
metrics {
  address = "127.0.0.1:9602"
}

input "kafka" "main" {
  brokers      = ["kafka1:9092", "kafka2:9092", "kafka3:9092"]
  topics       = ["kafka_test"]
  group_id     = "test123"
  start_offset = "earliest"                 # for a group with no committed offset
}

filter "apache" "access" {                  # parse the message field as an Apache log line
  field = "message"
}

output "elasticsearch" "main" {
  hosts = ["http://es1:9200"]
  index = "filebeat_test-%{+YYYY.MM.dd}"   # date of the event's @timestamp, in UTC

  # With security on (the Elasticsearch 8 default):
  #   hosts    = ["https://es1:9200"]
  #   username = "logpipe_writer"
  #   password = env("ES_PASSWORD")         # ES_PASSWORD=... in /etc/default/logpipe-index
  #   tls {
  #     ca_file = "/etc/logpipe/es-ca.pem"
  #   }
}

# No stdout output here: under systemd every event would become a journal line. To look at
# events while trying things out, run by hand with an extra
#   output "stdout" "debug" { codec = "rubydebug" }
