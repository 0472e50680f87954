// Package estemplate holds what logpipe needs to install its Elasticsearch index template
// (filebeat_test-template.json beside this file, embedded by package deploy) without undoing
// what an operator configured on an installed one.
package estemplate

import (
	"encoding/json"
	"fmt"
)

// PipelineSettings are the index settings that route documents through ingest pipelines.
// logpipe's template sets neither; an operator who keeps an ingest pipeline may have added
// them to the installed template, and a PUT of logpipe's template would drop them.
var PipelineSettings = [...]string{"default_pipeline", "final_pipeline"}

// KeepPipelines returns body (an index template, the body of PUT _index_template/<name>)
// with the index.default_pipeline and index.final_pipeline settings of the installed
// template copied in, when body does not set them itself. installed is the answer of
// GET _index_template/<name>. kept lists the settings copied as "index.default_pipeline=x".
// When installed sets none (or cannot be read), body is returned unchanged.
func KeepPipelines(body, installed []byte) (out []byte, kept []string, err error) {
	var got struct {
		IndexTemplates []struct {
			IndexTemplate struct {
				Template struct {
					Settings map[string]any `json:"settings"`
				} `json:"template"`
			} `json:"index_template"`
		} `json:"index_templates"`
	}
	if json.Unmarshal(installed, &got) != nil || len(got.IndexTemplates) == 0 {
		return body, nil, nil
	}
	old := got.IndexTemplates[0].IndexTemplate.Template.Settings
	var tpl map[string]any
	if err := json.Unmarshal(body, &tpl); err != nil {
		return body, nil, fmt.Errorf("index template: %w", err)
	}
	template, _ := tpl["template"].(map[string]any)
	if template == nil {
		template = map[string]any{}
		tpl["template"] = template
	}
	settings, _ := template["settings"].(map[string]any)
	if settings == nil {
		settings = map[string]any{}
		template["settings"] = settings
	}
	index, _ := settings["index"].(map[string]any)
	for _, s := range PipelineSettings {
		v, ok := setting(old, s)
		if !ok {
			continue
		}
		if _, set := setting(settings, s); set {
			continue // logpipe's template sets it: its value wins
		}
		if index == nil {
			index = map[string]any{}
			settings["index"] = index
		}
		index[s] = v
		kept = append(kept, fmt.Sprintf("index.%s=%v", s, v))
	}
	if len(kept) == 0 {
		return body, nil, nil
	}
	out, err = json.Marshal(tpl)
	if err != nil {
		return body, nil, err
	}
	return out, kept, nil
}

// setting finds index.<name> in settings written nested ({"index":{"default_pipeline":..}},
// as GET returns them) or flat ({"index.default_pipeline":..}).
func setting(settings map[string]any, name string) (any, bool) {
	if v, ok := settings["index."+name]; ok {
		return v, true
	}
	if index, ok := settings["index"].(map[string]any); ok {
		if v, ok := index[name]; ok {
			return v, true
		}
	}
	return nil, false
}
