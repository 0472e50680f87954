package pipeline

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The kibana block's secrets are Secrets (never printed) and can come from files.
func TestKibanaSecrets(t *testing.T) {
	cfg, diags := Load("k.hcl", []byte(minimalIO+`
kibana {
  host          = "http://kb:5601"
  username      = "elastic"
  password      = env("KB_PW")
}
`), testRegistry(), envOf(map[string]string{"KB_PW": "hunter2-kb"}))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	k := cfg.Kibana
	if k.Password.Reveal() != "hunter2-kb" || k.Username != "elastic" {
		t.Fatalf("kibana: %q %q", k.Username, k.Password.Reveal())
	}
	js, _ := json.Marshal(k)
	for _, s := range []string{fmt.Sprintf("%v", k), fmt.Sprintf("%+v", *k), fmt.Sprintf("%#v", *k), string(js)} {
		if strings.Contains(s, "hunter2-kb") {
			t.Errorf("printed secret: %s", s)
		}
	}

	cfg, diags = Load("k.hcl", []byte(minimalIO+`
kibana {
  host         = "http://kb:5601"
  api_key_file = "/run/secrets/kb"
}
`), testRegistry(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if cfg.Kibana.APIKeyFile != "/run/secrets/kb" || cfg.Kibana.APIKey.IsSet() {
		t.Fatalf("kibana: %+v", cfg.Kibana)
	}

	for _, c := range []struct{ body, want string }{
		{`password_file = "/p"`, "password_file needs a username"},
		{"username = \"u\"\n password = \"x\"\n password_file = \"/p\"", "either password or password_file"},
		{"api_key = \"x\"\n api_key_file = \"/k\"", "either api_key or api_key_file"},
		{"username = \"u\"\n api_key_file = \"/k\"", "either api_key_file or username"},
	} {
		_, diags := Load("k.hcl", []byte(minimalIO+"kibana {\n host = \"http://kb:5601\"\n "+c.body+"\n}\n"), testRegistry(), nil)
		if !strings.Contains(diags.Error(), c.want) {
			t.Errorf("%s: diagnostics %q, want %q", c.body, diags.Error(), c.want)
		}
	}
}
