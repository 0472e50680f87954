# Shipper of the Docker compose sandbox (deploy/docker/compose.yaml).
data_dir = "/var/lib/logpipe/ship"

input "file" "access" {
  paths          = ["/etc/httpd/logs/access_log*"]   # the live file and its rotations
  exclude        = ["*.gz"]
  start_position = "beginning"
}

output "kafka" "main" {
  brokers       = ["kafka1:9092", "kafka2:9092", "kafka3:9092"]
  topic         = "kafka_test"
  required_acks = "all"
  compression   = "lz4"
}
