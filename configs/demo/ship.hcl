# Demo shipper: tails the demo's access_log into the embedded Kafka-protocol broker.
# `make demo` sets LOGPIPE_DEMO_DIR and LOGPIPE_DEMO_BROKER; see e2e/demo.
data_dir = "${env("LOGPIPE_DEMO_DIR")}/ship"
drain_timeout = "10s"

logging {
  level = "info"
}

input "file" "access" {
  paths          = ["${env("LOGPIPE_DEMO_DIR")}/logs/access_log*"]
  start_position = "beginning"
  poll_interval  = "250ms"
}

output "kafka" "main" {
  brokers       = [env("LOGPIPE_DEMO_BROKER", "127.0.0.1:9092")]
  topic         = "kafka_test"
  required_acks = "all"
  compression   = "lz4"
}
