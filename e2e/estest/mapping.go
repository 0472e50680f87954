package estest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"time"
)

// mapping is the field mapping of one index: dotted path -> type ("object" for objects).
type mapping struct {
	fields        map[string]string
	dateDetection bool   // Elasticsearch's default is true
	stringType    string // type of dynamically mapped strings; default text
}

func newMapping() *mapping {
	return &mapping{fields: map[string]string{}, dateDetection: true, stringType: "text"}
}

// set maps path to typ, and every parent of path to object.
func (m *mapping) set(p, typ string) {
	m.fields[p] = typ
	for i := strings.LastIndexByte(p, '.'); i > 0; i = strings.LastIndexByte(p[:i], '.') {
		if _, ok := m.fields[p[:i]]; !ok {
			m.fields[p[:i]] = "object"
		}
	}
}

type docError struct {
	reason                 string
	causeType, causeReason string
}

// check parses a document source against the mapping and, when it fits, adds the dynamic
// mappings it introduces. It returns the document_parsing_exception to answer otherwise.
func (m *mapping) check(source []byte, id string) *docError {
	d := json.NewDecoder(bytes.NewReader(source))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return &docError{reason: "[1:1] failed to parse: " + err.Error(), causeType: "json_parse_exception", causeReason: err.Error()}
	}
	if d.More() {
		return &docError{reason: "[1:1] failed to parse: unexpected content after the document", causeType: "json_parse_exception", causeReason: "trailing content"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return &docError{reason: "[1:1] failed to parse: the document source must be a JSON object", causeType: "not_x_content_exception", causeReason: "Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes"}
	}
	added := map[string]string{}
	if e := m.walkObject("", obj, id, added); e != nil {
		return e
	}
	for p, t := range added {
		m.fields[p] = t
	}
	return nil
}

func (m *mapping) typeOf(p string, added map[string]string) (string, bool) {
	if t, ok := added[p]; ok {
		return t, true
	}
	t, ok := m.fields[p]
	return t, ok
}

func (m *mapping) walkObject(prefix string, obj map[string]any, id string, added map[string]string) *docError {
	for k, v := range obj {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		// Dotted keys are expanded into objects, as Elasticsearch does.
		for i := strings.IndexByte(p, '.'); i > 0; {
			parent := p[:i]
			if t, ok := m.typeOf(parent, added); ok && t != "object" && t != "nested" {
				return &docError{reason: fmt.Sprintf("[1:1] Could not dynamically add mapping for field [%s]. Existing mapping for [%s] must be of type object but found [%s].", p, parent, t)}
			} else if !ok {
				added[parent] = "object"
			}
			j := strings.IndexByte(p[i+1:], '.')
			if j < 0 {
				break
			}
			i += 1 + j
		}
		if e := m.walkValue(p, v, id, added); e != nil {
			return e
		}
	}
	return nil
}

func (m *mapping) walkValue(p string, v any, id string, added map[string]string) *docError {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		for _, e := range x {
			if err := m.walkValue(p, e, id, added); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		t, ok := m.typeOf(p, added)
		if ok && t != "object" && t != "nested" && t != "flattened" {
			return &docError{
				reason:      fmt.Sprintf("[1:1] failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'", p, t, id, preview(x)),
				causeType:   "illegal_state_exception",
				causeReason: "Can't get text on a START_OBJECT at 1:1",
			}
		}
		if !ok {
			added[p] = "object"
		}
		if t == "flattened" {
			return nil
		}
		return m.walkObject(p, x, id, added)
	}
	t, ok := m.typeOf(p, added)
	if !ok {
		t = m.dynamicType(v)
		added[p] = t
	}
	if t == "object" || t == "nested" {
		return &docError{reason: fmt.Sprintf("[1:1] object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", p, p)}
	}
	if cause, reason := checkValue(t, v); cause != "" {
		return &docError{
			reason:      fmt.Sprintf("[1:1] failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'", p, t, id, preview(v)),
			causeType:   cause,
			causeReason: reason,
		}
	}
	return nil
}

func (m *mapping) dynamicType(v any) string {
	switch x := v.(type) {
	case json.Number:
		if _, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return "long"
		}
		return "float"
	case bool:
		return "boolean"
	case string:
		if m.dateDetection && parseDate(x) {
			return "date"
		}
		if m.stringType != "" {
			return m.stringType
		}
		return "text"
	}
	return "keyword"
}

// checkValue reports whether a concrete value fits a field type, with Elasticsearch's
// default coercion; it returns the caused_by type and reason when it does not.
func checkValue(typ string, v any) (string, string) {
	switch typ {
	case "long", "integer", "short", "byte", "unsigned_long", "float", "double", "half_float", "scaled_float":
		switch x := v.(type) {
		case string:
			if _, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return "", ""
			}
			// Elasticsearch's cause for a bad string: illegal_argument_exception for integer
			// types, number_format_exception for floating-point ones.
			cause := "illegal_argument_exception"
			if typ == "float" || typ == "double" || typ == "half_float" || typ == "scaled_float" {
				cause = "number_format_exception"
			}
			return cause, fmt.Sprintf("For input string: \"%s\"", x)
		case bool:
			token := "VALUE_FALSE"
			if x {
				token = "VALUE_TRUE"
			}
			return "x_content_parse_exception", "Current token (" + token + ") not numeric, can not use numeric value accessors"
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			return "", ""
		case string:
			if x == "true" || x == "false" || x == "" {
				return "", ""
			}
			return "illegal_argument_exception", fmt.Sprintf("Failed to parse value [%s] as only [true] or [false] are allowed.", x)
		default:
			return "illegal_argument_exception", fmt.Sprintf("Failed to parse value [%v] as only [true] or [false] are allowed.", x)
		}
	case "date", "date_nanos":
		switch x := v.(type) {
		case json.Number:
			return "", ""
		case string:
			if parseDate(x) {
				return "", ""
			}
			if _, err := strconv.ParseInt(x, 10, 64); err == nil {
				return "", ""
			}
			return "illegal_argument_exception", fmt.Sprintf("failed to parse date field [%s] with format [strict_date_optional_time||epoch_millis]", x)
		default:
			return "illegal_argument_exception", fmt.Sprintf("failed to parse date field [%v] with format [strict_date_optional_time||epoch_millis]", x)
		}
	case "ip":
		x, ok := v.(string)
		if ok && net.ParseIP(x) != nil {
			return "", ""
		}
		return "illegal_argument_exception", fmt.Sprintf("'%v' is not an IP string literal.", v)
	}
	return "", ""
}

var dateLayouts = []string{
	"2006-01-02",
	"2006-01-02T15:04",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
}

// parseDate accepts strict_date_optional_time.
func parseDate(s string) bool {
	if len(s) < 10 || s[4] != '-' {
		return false
	}
	for _, l := range dateLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

func preview(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// template is the part of a composable index template the server applies.
type template struct {
	patterns      []string
	priority      int64
	fields        map[string]string
	dateDetection bool
	stringType    string
}

func (t *template) matches(index string) bool {
	for _, p := range t.patterns {
		if matchPattern(p, index) {
			return true
		}
	}
	return false
}

// matchPattern matches Elasticsearch's simple wildcard patterns ("*", "filebeat_test-*"),
// comma-separated lists, and "_all".
func matchPattern(pattern, name string) bool {
	for _, p := range strings.Split(pattern, ",") {
		if p == "_all" || p == name {
			return true
		}
		if ok, _ := path.Match(p, name); ok && strings.Contains(p, "*") {
			return true
		}
	}
	return false
}

func parseTemplate(body []byte) (*template, error) {
	var raw struct {
		IndexPatterns json.RawMessage `json:"index_patterns"`
		Priority      int64           `json:"priority"`
		Template      struct {
			Mappings struct {
				DateDetection   *bool                     `json:"date_detection"`
				DynamicTemplate []map[string]dynTemplate  `json:"dynamic_templates"`
				Properties      map[string]propertyDefRaw `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("failed to parse mapping: %w", err)
	}
	t := &template{priority: raw.Priority, fields: map[string]string{}, dateDetection: true, stringType: "text"}
	var one string
	if json.Unmarshal(raw.IndexPatterns, &one) == nil {
		t.patterns = strings.Split(one, ",")
	} else if err := json.Unmarshal(raw.IndexPatterns, &t.patterns); err != nil {
		return nil, fmt.Errorf("index_patterns: %w", err)
	}
	mp := raw.Template.Mappings
	if mp.DateDetection != nil {
		t.dateDetection = *mp.DateDetection
	}
	for _, dt := range mp.DynamicTemplate {
		for _, d := range dt {
			if d.MatchMappingType == "string" && d.Mapping.Type != "" && d.Match == "" && d.PathMatch == "" {
				t.stringType = d.Mapping.Type
			}
		}
	}
	if err := flatten("", mp.Properties, t.fields); err != nil {
		return nil, err
	}
	return t, nil
}

type dynTemplate struct {
	MatchMappingType string `json:"match_mapping_type"`
	Match            string `json:"match"`
	PathMatch        string `json:"path_match"`
	Mapping          struct {
		Type string `json:"type"`
	} `json:"mapping"`
}

type propertyDefRaw struct {
	Type       string                    `json:"type"`
	Properties map[string]propertyDefRaw `json:"properties"`
}

func flatten(prefix string, props map[string]propertyDefRaw, out map[string]string) error {
	for name, p := range props {
		full := name
		if prefix != "" {
			full = prefix + "." + name
		}
		switch {
		case p.Properties != nil:
			t := p.Type
			if t == "" {
				t = "object"
			}
			out[full] = t
			if err := flatten(full, p.Properties, out); err != nil {
				return err
			}
		case p.Type == "":
			return fmt.Errorf("No type specified for field [%s]", full)
		default:
			out[full] = p.Type
		}
	}
	return nil
}
