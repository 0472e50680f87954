// Package deploy holds the deployment assets that logpipe installs into its peers: the
// Elasticsearch index template for the daily filebeat_test-* indices and the Kibana saved
// objects (a data view and the "Apache access (logpipe)" dashboard). Both are embedded in the
// binary, so `logpipe setup` and the elasticsearch output's manage_template need no files on
// disk.
package deploy

import (
	_ "embed"
)

// TemplateName is the name under which the index template is installed
// (PUT _index_template/<TemplateName>).
const TemplateName = "filebeat_test"

//go:embed elasticsearch/filebeat_test-template.json
var indexTemplate []byte

//go:embed kibana/apache-dashboard.ndjson
var savedObjects []byte

// IndexTemplate returns the composable index template for filebeat_test-*: its name and the
// body to send with PUT /_index_template/<name>. The body is a JSON object with
// index_patterns, priority, version, _meta (owner "logpipe") and template (settings and
// explicit mappings of every field the shipper and the apache filter produce). The returned
// slice is a copy: callers may modify it.
func IndexTemplate() (name string, body []byte) {
	return TemplateName, append([]byte(nil), indexTemplate...)
}

// SavedObjects returns the Kibana 8.x saved objects as NDJSON (one object per line), ready
// for POST /api/saved_objects/_import. The returned slice is a copy: callers may modify it.
func SavedObjects() []byte {
	return append([]byte(nil), savedObjects...)
}
