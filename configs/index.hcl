# index.hcl
data_dir = "/var/lib/logpipe/index"

input "kafka" "main" {
  brokers      = ["kafka1:9092", "kafka2:9092", "kafka3:9092"]
  topics       = ["kafka_test"]
  group_id     = "test123"
  start_offset = "earliest"                 # for a group with no committed offset
}

filter "apache" "access" {                  # parse the message field as an Apache access line
  field = "message"
}

output "elasticsearch" "main" {
  hosts = ["http://es1:9200"]
  index = "filebeat_test-%{+YYYY.MM.dd}"   # date of the event's @timestamp, in UTC
}

output "stdout" "debug" {
  codec = "rubydebug"
}
