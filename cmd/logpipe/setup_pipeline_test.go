package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSetupKeepsDefaultPipeline: an operator who set index.default_pipeline on the installed
// template (to keep an ingest pipeline) keeps it when setup installs a new version of
// logpipe's template; without one, the template is installed as shipped.
func TestSetupKeepsDefaultPipeline(t *testing.T) {
	env := newSetupEnv(t)
	env.es.templates["filebeat_test"] = json.RawMessage(`{"index_patterns":["filebeat_test-*"],"version":1,
		"template":{"settings":{"index":{"default_pipeline":"my-enrich","number_of_shards":"3"}},"mappings":{}}}`)
	path := env.config(t, "", "", "")
	code, out, errOut := runSetupTest(t, "-c", path, "--template")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "from version 1 to version 2") || !strings.Contains(out, "kept index.default_pipeline=my-enrich") {
		t.Errorf("output: %s", out)
	}
	settings := func() map[string]any {
		var tpl struct {
			Template struct {
				Settings struct {
					Index map[string]any `json:"index"`
				} `json:"settings"`
			} `json:"template"`
		}
		if err := json.Unmarshal(env.es.templates["filebeat_test"], &tpl); err != nil {
			t.Fatal(err)
		}
		return tpl.Template.Settings.Index
	}
	s := settings()
	if s["default_pipeline"] != "my-enrich" || s["number_of_shards"] != float64(1) {
		t.Errorf("installed settings %v", s)
	}
	// Running setup again keeps it again (it is now part of the installed template).
	if code, out, _ = runSetupTest(t, "-c", path, "--template"); code != exitOK || settings()["default_pipeline"] != "my-enrich" {
		t.Errorf("second run: %s, settings %v", out, settings())
	}

	// A template without one stays without one.
	env2 := newSetupEnv(t)
	if code, out, errOut = runSetupTest(t, "-c", env2.config(t, "", "", ""), "--template"); code != exitOK || strings.Contains(out, "kept") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var tpl map[string]any
	_ = json.Unmarshal(env2.es.templates["filebeat_test"], &tpl)
	if strings.Contains(string(env2.es.templates["filebeat_test"]), "default_pipeline") {
		t.Errorf("default_pipeline added: %v", tpl)
	}
}
