# /etc/logpipe/ship.hcl: logpipe ship on a web server (unit logpipe-ship.service).
# Tails Apache's access and error logs, rotated files included, into the Kafka topic kafka_test.
# Check it with `logpipe validate -c /etc/logpipe/ship.hcl`, then `logpipe test -c ...`.
# Secrets: write them as env("NAME") and put NAME=... in /etc/default/logpipe-ship.

# Registry of file offsets and the agent id. Keep it equal to the unit's StateDirectory
# (/var/lib/logpipe/ship): the unit can write nowhere else.
data_dir = "/var/lib/logpipe/ship"

# Prometheus /metrics, /healthz, /readyz. The shipper listens on 9601, the indexer on 9602,
# so both roles can run on one host.
metrics {
  address = "127.0.0.1:9601"
}

# The live file and its rotations (access_log-20261129, access_log.1, ...): a line written to
# the old file after the rotation is still read, and a file is recognised by its content under
# any name, so nothing is read twice. Compressed rotations are never read.
input "file" "access" {
  paths          = ["/etc/httpd/logs/access_log*"]
  exclude        = ["*.gz"]
  start_position = "beginning"                      # for files seen the first time: beginning | end
}

input "file" "error" {
  paths          = ["/etc/httpd/logs/error_log*"]
  exclude        = ["*.gz"]
  start_position = "beginning"
}

output "kafka" "main" {
  brokers       = ["kafka1:9092", "kafka2:9092", "kafka3:9092"]
  topic         = "kafka_test"
  required_acks = "all"                     # all | one | none
  compression   = "lz4"                     # none | gzip | snappy | lz4 | zstd
}
