# Indexer (and `logpipe setup`) of the Docker compose sandbox (deploy/docker/compose.yaml).
data_dir = "/var/lib/logpipe/index"

kibana {
  host = env("KIBANA_HOST", "http://kibana:5601")
}

input "kafka" "main" {
  brokers            = ["kafka1:9092", "kafka2:9092", "kafka3:9092"]
  topics             = ["kafka_test"]
  group_id           = "test123"
  start_offset       = "earliest"
  partitions         = 3
  replication_factor = 2
}

filter "apache" "access" {
  field = "message"
}

output "elasticsearch" "main" {
  hosts = [env("ES_HOST", "http://elasticsearch:9200")]
  index = "filebeat_test-%{+YYYY.MM.dd}"
}
