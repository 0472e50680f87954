package docker

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestCompose checks the sandbox's shape: three KRaft brokers that vote for each other,
// Elasticsearch, Kibana, setup before both logpipe roles, and mounted files that exist.
func TestCompose(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]any    `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			DependsOn   map[string]any    `yaml:"depends_on"`
			Build       map[string]string `yaml:"build"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"kafka1", "kafka2", "kafka3"} {
		s, ok := c.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		if s.Environment["KAFKA_PROCESS_ROLES"] != "broker,controller" ||
			s.Environment["KAFKA_CONTROLLER_QUORUM_VOTERS"] != "1@kafka1:9093,2@kafka2:9093,3@kafka3:9093" {
			t.Errorf("%s is not a KRaft voter of the 3-node quorum: %v", name, s.Environment)
		}
	}
	for _, name := range []string{"elasticsearch", "kibana", "setup", "ship", "index"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	for _, role := range []string{"ship", "index"} {
		s := c.Services[role]
		if len(s.Command) < 3 || s.Command[0] != role || s.Command[2] != "/etc/logpipe/"+role+".hcl" {
			t.Errorf("%s runs %v", role, s.Command)
		}
		if _, ok := s.DependsOn["setup"]; !ok {
			t.Errorf("%s does not wait for setup", role)
		}
		if s.Build["dockerfile"] != "deploy/docker/Dockerfile" {
			t.Errorf("%s builds from %q", role, s.Build["dockerfile"])
		}
	}
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
	}
}

// TestDockerfile checks that every COPY source exists in the repository (the build context is
// its root) and that the final image runs as a non-root user.
func TestDockerfile(t *testing.T) {
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root := filepath.Join("..", "..")
	user := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "USER":
			user = fields[1]
		case "COPY":
			args := fields[1:]
			if strings.HasPrefix(args[0], "--from") {
				continue // from a build stage, not the context
			}
			for _, src := range args[:len(args)-1] {
				if strings.HasPrefix(src, "--") || src == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
			}
		}
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("the image runs as %q, want a non-root user", user)
	}
}
