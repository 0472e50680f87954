# ship.hcl
data_dir = "/var/lib/logpipe/ship"          # registry (file offsets) lives here

input "file" "access" {
  paths          = ["/etc/httpd/logs/access_log"]   # globs allowed
  start_position = "beginning"                      # for files seen the first time: beginning | end
}

output "kafka" "main" {
  brokers       = ["kafka1:9092", "kafka2:9092", "kafka3:9092"]
  topic         = "kafka_test"
  required_acks = "all"                     # all | one | none
  compression   = "lz4"                     # none | gzip | snappy | lz4 | zstd
}
