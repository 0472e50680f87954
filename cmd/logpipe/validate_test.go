package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validateSrc writes src to a file and runs `logpipe validate -c` on it.
func validateSrc(t *testing.T, src string, args ...string) (path string, code int, stdout, stderr string) {
	t.Helper()
	path = writeFile(t, "v.hcl", src)
	code, stdout, stderr = runCLI(t, nil, append([]string{"validate", "-c", path}, args...)...)
	return path, code, stdout, stderr
}

// Every problem validate can see offline is an error (exit 78) at its file:line:col, and
// the message says what to write instead.
func TestValidateCatchesOffline(t *testing.T) {
	dataFile := writeFile(t, "not-a-dir", "")
	cases := []struct {
		name string
		src  string
		want []string // "LINE:COL: text"
	}{
		{"broker with a scheme, a semicolon, no port", `data_dir = "` + t.TempDir() + `"
input "file" "a" { paths = ["/tmp/x.log"] }
output "kafka" "k" {
  brokers = ["kafka://h1:9092", "h1:9092;h2:9092", "h3", "h4:99999"]
  topic   = "t"
}`, []string{
			`4:13: Invalid brokers: "kafka://h1:9092" has a scheme: Kafka brokers are written host:port without one, like "h1:9092"`,
			`4:13: Invalid brokers: "h1:9092;h2:9092" holds a ';': separate brokers with commas`,
			`4:13: Invalid brokers: "h3" has no port: write host:port, like "h3:9092"`,
			`4:13: Invalid brokers: "h4:99999": the port must be a number between 1 and 65535`,
		}},
		{"topic names Kafka refuses", `data_dir = "` + t.TempDir() + `"
input "kafka" "k" {
  brokers  = ["h1:9092"]
  topics   = ["access logs", "ok.topic", ".."]
  group_id = "g"
}
output "kafka" "k" {
  brokers = ["h1:9092"]
  topic   = "filebeat/test"
}`, []string{
			`4:14: Invalid topics: Kafka refuses the topic name "access logs": it holds " "; topic names use only ASCII letters, digits, '.', '_' and '-', like "access_logs"`,
			`4:14: Invalid topics: ".." is not a valid Kafka topic name`,
			`9:13: Invalid topic: Kafka refuses the topic name "filebeat/test"`,
		}},
		{"metrics address", `data_dir = "` + t.TempDir() + `"
metrics { address = "localhost:http-alt" }
input "file" "a" { paths = ["/tmp/x.log"] }
output "stdout" "o" {}`, []string{
			`2:21: Invalid address: address "localhost:http-alt": the port must be a number from 0 to 65535, like "localhost:9600"`,
		}},
		{"data_dir is a file", `data_dir = "` + dataFile + `"
input "file" "a" { paths = ["/tmp/x.log"] }
output "stdout" "o" {}`, []string{
			`1:12: Unusable data_dir: ` + dataFile + ` exists and is not a directory: point data_dir at a directory`,
		}},
		{"Filebeat and Logstash names", `data_dir = "` + t.TempDir() + `"
input "log" "old" { paths = ["/tmp/x.log"] }
input "file" "a" {
  paths      = ["/tmp/x.log"]
  tail_files = true
}
input "kafka" "k" {
  bootstrap_servers = "h1:9092"
  auto_offset_reset = "earliest"
  topics            = ["t"]
  group_id          = "g"
}
input "kafka" "k2" {
  brokers      = ["h1:9092"]
  topics       = ["t"]
  group_id     = "g"
  start_offset = "smallest"
}
input "kafka" "k3" {
  brokers          = ["h1:9092"]
  topics           = ["t"]
  group_id         = "g"
  consumer_threads = 3
}
output "kafka" "k" {
  hosts         = ["h1:9092"]
  topic         = "t"
  required_acks = 1
}
output "kafka" "k2" {
  brokers       = ["h1:9092"]
  topic         = "t"
  required_acks = -1
}`, []string{
			`2:7: Unknown input type: There is no input type "log". Filebeat's "log" input is input "file" here`,
			`5:3: Unsupported argument: An argument named "tail_files" is not expected here. Filebeat's tail_files = true is start_position = "end" here`,
			`8:3: Unsupported argument: An argument named "bootstrap_servers" is not expected here. Logstash's bootstrap_servers is brokers here`,
			`9:3: Unsupported argument: An argument named "auto_offset_reset" is not expected here. Logstash's auto_offset_reset is start_offset here`,
			`17:18: Invalid start_offset: "smallest" is not one of earliest, latest (in input "kafka" "k2"). Kafka's old "smallest" is "earliest" here.`,
			`23:3: Unsupported argument: An argument named "consumer_threads" is not expected here. logpipe reads every assigned partition concurrently; to scale out, run more logpipe index processes with the same group_id.`,
			`26:3: Unsupported argument: An argument named "hosts" is not expected here. Filebeat's hosts is brokers here: brokers = ["kafka1:9092", "kafka2:9092"]`,
			`28:19: Invalid required_acks: "1" is not one of all, one, none (in output "kafka" "k"). Filebeat's required_acks = 1 is "one" here`,
			`33:19: Invalid required_acks: "-1" is not one of all, one, none (in output "kafka" "k2"). Filebeat's required_acks = -1 is "all" here`,
		}},
		{"a pasted filebeat.yml", `filebeat.inputs:
- type: log
  paths:
    - /var/log/httpd/access_log
output.kafka:
  hosts: ["kafka1:9092"]
  topic: kafka_test
`, []string{`1:1: This is a Filebeat configuration (filebeat.yml): logpipe reads HCL, not YAML`}},
		{"a pasted Logstash pipeline", `input {
  kafka {
    bootstrap_servers => "k1:9092"
    topics => ["kafka_test"]
  }
}
output { stdout { codec => rubydebug } }
`, []string{`1:1: This is a Logstash pipeline configuration: logpipe reads HCL`}},
		{"some other YAML", "logging:\n  level: info\nmetrics:\n  address: 127.0.0.1:9600\n",
			[]string{`1:1: This looks like a YAML file: logpipe reads HCL, not YAML`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, code, out, errOut := validateSrc(t, c.src)
			if code != exitConfig || out != "" {
				t.Errorf("exit %d, stdout %q; want 78", code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, path+":"+w) {
					t.Errorf("stderr lacks %q:\n%s", path+":"+w, errOut)
				}
			}
		})
	}
}

// Date formats that are valid but almost certainly wrong are warnings: validate still exits
// 0. In logpipe, as in Logstash (Joda), YYYY is the calendar year: no warning for it.
func TestValidateWarnsAboutDateFormats(t *testing.T) {
	src := `data_dir = "` + t.TempDir() + `"
input "kafka" "k" {
  brokers  = ["h1:9092"]
  topics   = ["t"]
  group_id = "g"
}
output "elasticsearch" "bad" {
  hosts = ["http://127.0.0.1:9200"]
  index = "filebeat_test-%{+YYYY.MM.DD}"
}
output "elasticsearch" "week" {
  hosts = ["http://127.0.0.1:9200"]
  index = "filebeat_test-%{+xxxx.MM.dd}"
}
output "elasticsearch" "good" {
  hosts = ["http://127.0.0.1:9200"]
  index = "filebeat_test-%{+YYYY.MM.dd}"
}
`
	path, code, out, errOut := validateSrc(t, src)
	if code != exitOK || !strings.HasPrefix(out, "config OK") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	for _, w := range []string{
		path + `:9:11: warning: Suspicious date format in index: "YYYY.MM.DD" uses D, the day of the year (001-366), next to the month: the day of the month is d, like "YYYY.MM.dd".`,
		path + `:13:11: warning: Suspicious date format in index: "xxxx.MM.dd" uses x, the ISO week-based year`,
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if strings.Count(errOut, "warning:") != 2 {
		t.Errorf("want exactly 2 warnings (none for YYYY.MM.dd):\n%s", errOut)
	}
}

// -c given twice is refused: one process reads one file.
func TestRepeatedConfigFlag(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "-c", "a.hcl", "-c", "b.hcl"},
		{"ship", "-c", "a.hcl", "--config", "b.hcl"},
		{"index", "--config=a.hcl", "-c=b.hcl"},
		{"test", "-c", "a.hcl", "-c", "b.hcl"},
	} {
		code, _, errOut := runCLI(t, nil, args...)
		if code != exitUsage || !strings.Contains(errOut, `given twice ("a.hcl", then "b.hcl")`) {
			t.Errorf("%q: exit %d, stderr:\n%s", args, code, errOut)
		}
	}
}

// A missing data_dir is fine when it can be created; a secret file that exists but cannot
// be read is reported with the fix.
func TestValidateHostChecks(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "pw")
	if err := os.WriteFile(secret, []byte("pw\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	src := `data_dir = "` + filepath.Join(dir, "new", "state") + `"
input "kafka" "k" {
  brokers  = ["h1:9092"]
  topics   = ["t"]
  group_id = "g"
  sasl {
    username      = "u"
    password_file = "` + secret + `"
  }
}
output "stdout" "o" {}
`
	path, code, out, errOut := validateSrc(t, src)
	if os.Getuid() == 0 {
		// root reads any file: only the data_dir part of the check applies.
		if code != exitOK {
			t.Fatalf("exit %d, %q\n%s", code, out, errOut)
		}
		return
	}
	if code != exitConfig || !strings.Contains(errOut, path+":8:21: Unusable sasl.password_file: "+secret+" is not readable by this user") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if strings.Contains(errOut, "data_dir") {
		t.Errorf("a data_dir that can be created was reported:\n%s", errOut)
	}
}
