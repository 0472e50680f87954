package eventdoc

import (
	"encoding/json"
	"testing"

	"github.com/logpipe/logpipe/pipeline/condition"
)

func fields(t *testing.T, names ...string) []condition.Field {
	t.Helper()
	var out []condition.Field
	for _, n := range names {
		f, err := condition.ParseField(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func TestRemoveSet(t *testing.T) {
	cases := []struct {
		doc    string
		fields []string
		want   string
		found  []bool
	}{
		{`{"a":1,"b":2}`, []string{"a"}, `{"b":2}`, []bool{true}},
		{`{"a":1,"b":2}`, []string{"b"}, `{"a":1}`, []bool{true}},
		{`{"a":1}`, []string{"a"}, `{}`, []bool{true}},
		{`{ "a" : 1 , "b" : {"c":2,"d":3} }`, []string{"b.c", "x"}, `{"a":1,"b":{"d":3}}`, []bool{true, false}},
		{`{"b":{"c":{"d":1}},"b.c":2}`, []string{"b.c"}, `{"b":{}}`, []bool{true}},
		{`{"\u0061":1,"b":"a"}`, []string{"a"}, `{"b":"a"}`, []bool{true}},
		{`{"a":1,"a":2,"b":3}`, []string{"a"}, `{"b":3}`, []bool{true}},
		{`{"a":"x\"y","b":[{"a":1}]}`, []string{"b.a"}, `{"a":"x\"y","b":[{"a":1}]}`, []bool{false}},
		{`{"a":{"b":1}`, []string{"a.b"}, `{"a":{"b":1}`, []bool{false}}, // malformed: unchanged
	}
	for _, c := range cases {
		found := make([]bool, len(c.fields))
		got := string(RemoveSet([]byte("prefix"), []byte(c.doc), NewFieldSet(fields(t, c.fields...)), found))
		if got != "prefix"+c.want {
			t.Errorf("RemoveSet(%s, %v) = %s, want %s", c.doc, c.fields, got, c.want)
		}
		for i := range found {
			if found[i] != c.found[i] {
				t.Errorf("RemoveSet(%s, %v): found %v, want %v", c.doc, c.fields, found, c.found)
				break
			}
		}
	}
}

func TestPutAndRemove(t *testing.T) {
	var ed Editor
	put := []struct{ doc, field, raw, want string }{
		{`{}`, "a", `1`, `{"a":1}`},
		{`{"x":0}`, "a.b.c", `"v"`, `{"x":0,"a":{"b":{"c":"v"}}}`},
		{`{"a":{"y":1}}`, "a.b.c", `true`, `{"a":{"y":1,"b":{"c":true}}}`},
		{`{"a":{"b":{"c":1}}}`, "a.b.c", `2`, `{"a":{"b":{"c":2}}}`},
	}
	for _, c := range put {
		got, err := ed.Put([]byte(c.doc), fields(t, c.field)[0], []byte(c.raw), false)
		if err != nil || string(got) != c.want || !json.Valid(got) {
			t.Errorf("Put(%s, %s) = %s, %v; want %s", c.doc, c.field, got, err, c.want)
		}
	}
	if _, err := ed.Put([]byte(`{"a":"s"}`), fields(t, "a.b")[0], []byte(`1`), false); err == nil {
		t.Error("Put through a string succeeded")
	}
	if got, _ := ed.Put([]byte(`{"error":"s"}`), ErrorMessage, []byte(`"m"`), true); string(got) != `{"error":{"message":"m"}}` {
		t.Errorf("Put with overwrite = %s", got)
	}
	rm := []struct {
		doc, field, want string
		found            bool
	}{
		{`{"a":{"b":1,"c":2}}`, "a.b", `{"a":{"c":2}}`, true},
		{`{"a.b":1,"c":2}`, "a.b", `{"c":2}`, true},
		{`{"a":{"c":2}}`, "a.b", `{"a":{"c":2}}`, false},
		{`{"a":1}`, "a", `{}`, true},
	}
	for _, c := range rm {
		got, found := ed.Remove([]byte(c.doc), fields(t, c.field)[0])
		if string(got) != c.want || found != c.found {
			t.Errorf("Remove(%s, %s) = %s, %v", c.doc, c.field, got, found)
		}
	}
}
