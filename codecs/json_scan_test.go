package codecs

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestLookup(t *testing.T) {
	doc := []byte(` { "a" : { "b" : [1, {"x":2}] , "c":"s\"q" }, "d\u0065":true, "n":null, "a":"dup" } `)
	cases := []struct {
		path []string
		want string
		ok   bool
	}{
		{[]string{"a", "b"}, `[1, {"x":2}]`, true},
		{[]string{"a", "c"}, `"s\"q"`, true},
		{[]string{"de"}, `true`, true},
		{[]string{"n"}, `null`, true},
		{[]string{"a"}, `{ "b" : [1, {"x":2}] , "c":"s\"q" }`, true},
		{[]string{"a", "b", "x"}, ``, false},
		{[]string{"zz"}, ``, false},
		{[]string{"de", "x"}, ``, false},
		{nil, strings.TrimSpace(string(doc)), true},
	}
	for _, c := range cases {
		got, ok := Lookup(doc, c.path...)
		if ok != c.ok || string(got) != c.want {
			t.Errorf("Lookup(%v) = %q, %v; want %q, %v", c.path, got, ok, c.want, c.ok)
		}
	}
	for _, bad := range []string{``, `{`, `{"a":}`, `{"a" 1}`, `[1]`, `{"a":tru}`} {
		if v, ok := Lookup([]byte(bad), "a"); ok {
			t.Errorf("Lookup(%q) = %q, want not found", bad, v)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Lookup(doc, "a", "c") }); n != 0 {
		t.Errorf("Lookup allocates %v", n)
	}
}

func TestAppendUnquoted(t *testing.T) {
	cases := map[string]string{
		`""`:                     "",
		`"plain"`:                "plain",
		`"a\"b\\c\/d\b\f\n\r\t"`: "a\"b\\c/d\b\f\n\r\t",
		`"\u00e9\u20AC"`:         "é€",
		`"\ud83d\ude00"`:         "😀",
		`"\ud83d"`:               "\uFFFD",
		`"\ud83dx"`:              "\uFFFDx",
		`"\ude00"`:               "\uFFFD",
		`"\ud83d\u0041"`:         "\uFFFDA",
		"\"raw\xff\"":            "raw\xff",
	}
	for in, want := range cases {
		got, err := AppendUnquoted([]byte("pre:"), []byte(in))
		if err != nil || string(got) != "pre:"+want {
			t.Errorf("AppendUnquoted(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{``, `"`, `x`, `"abc`, `"\x"`, `"\u12"`, `"\u12g4"`, `"\"`} {
		got, err := AppendUnquoted([]byte("pre"), []byte(bad))
		if err == nil || string(got) != "pre" {
			t.Errorf("AppendUnquoted(%s) = %q, %v; want error and dst unchanged", bad, got, err)
		}
	}
}

func TestAppendQuoted(t *testing.T) {
	cases := map[string]string{
		"":                   `""`,
		"plain <&>":          `"plain <&>"`,
		"q\"b\\":             `"q\"b\\"`,
		"\n\r\t\b\f\x00\x1f": `"\n\r\t\b\f\u0000\u001f"`,
		"\x7f":               "\"\x7f\"",
		"é€😀":                `"é€😀"`,
		"a\xffb":             "\"a\uFFFDb\"",
		"\xe2\x82":           "\"\uFFFD\uFFFD\"",
		"\u2028\u2029":       `"\u2028\u2029"`,
	}
	for in, want := range cases {
		got := string(AppendQuoted(nil, []byte(in)))
		if got != want {
			t.Errorf("AppendQuoted(%q) = %s, want %s", in, got, want)
		}
		if got2 := string(AppendQuotedString(nil, in)); got2 != want {
			t.Errorf("AppendQuotedString(%q) = %s", in, got2)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("%s: %v", got, err)
		}
		if back != validUTF8(in) {
			t.Errorf("round trip of %q = %q", in, back)
		}
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = AppendQuotedString(buf[:0], "a\"b\xff") }); n != 0 {
		t.Errorf("AppendQuotedString allocates %v", n)
	}
}

// validUTF8 replaces each invalid byte by U+FFFD, as utf8.DecodeRune reports it.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

func TestAppendTimestamp(t *testing.T) {
	cases := []struct {
		t    time.Time
		want string
	}{
		{tsSample, "2026-11-21T07:16:26.746Z"},
		{time.Date(2026, 11, 21, 8, 16, 26, 999999999, time.FixedZone("x", 3600)), "2026-11-21T07:16:26.999Z"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01T00:00:00.000Z"},
		{time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), "12345-01-01T00:00:00.000Z"},
	}
	for _, c := range cases {
		if got := string(AppendTimestamp(nil, c.t)); got != c.want {
			t.Errorf("AppendTimestamp(%v) = %s, want %s", c.t, got, c.want)
		}
	}
	buf := make([]byte, 0, 32)
	if n := testing.AllocsPerRun(100, func() { buf = AppendTimestamp(buf[:0], tsSample) }); n != 0 {
		t.Errorf("AppendTimestamp allocates %v", n)
	}
}

func TestParseTimestamp(t *testing.T) {
	ms := time.Date(2026, 11, 21, 7, 16, 26, 746000000, time.UTC)
	cases := map[string]time.Time{
		`"2026-11-21T07:16:26.746Z"`:       ms,
		`"2026-11-21T07:16:26.746123456Z"`: time.Date(2026, 11, 21, 7, 16, 26, 746123456, time.UTC),
		`"2026-11-21T07:16:26Z"`:           ms.Truncate(time.Second),
		`"2026-11-21t07:16:26.746z"`:       ms,
		`"2026-11-21 07:16:26.746Z"`:       ms,
		`"2026-11-21T08:16:26.746+01:00"`:  ms,
		`"2026-11-21T02:16:26.746-0500"`:   ms,
		`"2026-11-21T07:16:26.746\u005a"`:  ms,
		`1795245386746`:                    ms,
	}
	for in, want := range cases {
		got, ok := ParseTimestamp([]byte(in))
		if !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTimestamp(%s) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{``, `"`, `""`, `"2026-11-21"`, `"2026-13-21T07:16:26Z"`, `"2026-02-30T07:16:26Z"`,
		`"2026-11-21T07:16:26"`, `"2026-11-21T07:16:26.Z"`, `"2026-11-21T07:16:26Zx"`, `true`, `"2026-11-21T25:16:26Z"`, `1e400`} {
		if got, ok := ParseTimestamp([]byte(bad)); ok {
			t.Errorf("ParseTimestamp(%s) = %v, want failure", bad, got)
		}
	}
	raw := []byte(`"2026-11-21T07:16:26.746Z"`)
	if n := testing.AllocsPerRun(100, func() { ParseTimestamp(raw) }); n != 0 {
		t.Errorf("ParseTimestamp allocates %v", n)
	}
}

func TestValidObject(t *testing.T) {
	good := []string{`{}`, ` {"a":1} `, `{"a":[1,2.5e-3,-0,"x",true,false,null,{}]}`, `{"a":"\u00e9"}`}
	bad := []string{``, ` `, `[]`, `"x"`, `{`, `{"a":1}x`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"` + "\n" + `"}`,
		`{"a":1,}`, `{,}`, `{"a"}`, `{a:1}`, `{"a":"\q"}`, `{"a":1}{}`, `{"a":[1,]}`, `{"a":+1}`, `{"a":1e}`,
		strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)}
	for _, s := range good {
		if !ValidObject([]byte(s)) {
			t.Errorf("ValidObject(%q) = false", s)
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("test case %q is not valid JSON", s)
		}
	}
	for _, s := range bad {
		if ValidObject([]byte(s)) {
			t.Errorf("ValidObject(%q) = true", s)
		}
	}
}

func TestRemoveMember(t *testing.T) {
	cases := []struct{ doc, key, want string }{
		{`{"@metadata":{"_id":"x"},"a":1}`, "@metadata", `{"a":1}`},
		{`{"a":1,"@metadata":{"_id":"x"}}`, "@metadata", `{"a":1}`},
		{`{"a":1, "@metadata" : {} , "b":2}`, "@metadata", `{"a":1 , "b":2}`},
		{`{"@metadata":1}`, "@metadata", `{}`},
		{`{"x":1,"x":2,"y":3}`, "x", `{"y":3}`},
		{`{"a":1}`, "b", `{"a":1}`},
		{`{"a":1`, "a", `{"a":1`},
	}
	for _, c := range cases {
		got := string(RemoveMember([]byte(c.doc), c.key))
		if got != c.want {
			t.Errorf("RemoveMember(%s, %q) = %s, want %s", c.doc, c.key, got, c.want)
		}
	}
}

func TestSetMember(t *testing.T) {
	cases := []struct{ doc, key, val, want string }{
		{`{"a":1}`, "b", `"x"`, `{"a":1,"b":"x"}`},
		{`{}`, "b", `2`, `{"b":2}`},
		{` { } `, "b", `2`, ` { "b":2} `},
		{`{"a":1,"b":2}`, "a", `{"long":"value"}`, `{"a":{"long":"value"},"b":2}`},
		{`{"a":"long value","b":2}`, "a", `1`, `{"a":1,"b":2}`},
		{`{"a":1}`, "q\"k", `1`, `{"a":1,"q\"k":1}`},
		{`not json`, "a", `1`, `not json`},
	}
	for _, c := range cases {
		got := string(SetMember([]byte(c.doc), c.key, []byte(c.val)))
		if got != c.want {
			t.Errorf("SetMember(%s, %q, %s) = %s, want %s", c.doc, c.key, c.val, got, c.want)
		}
	}
	// in place when capacity allows
	doc := make([]byte, 0, 64)
	doc = append(doc, `{"a":1}`...)
	if n := testing.AllocsPerRun(10, func() {
		d := SetMember(append(doc[:0], `{"a":1}`...), "b", []byte(`2`))
		if string(d) != `{"a":1,"b":2}` {
			t.Fatal(string(d))
		}
	}); n != 0 {
		t.Errorf("SetMember allocates %v", n)
	}
}

func TestMergeObject(t *testing.T) {
	cases := []struct{ doc, key, val, want string }{
		{`{"a":1}`, "event", `{"kind":"x"}`, `{"a":1,"event":{"kind":"x"}}`},
		{`{"event":{"original":"o"},"a":1}`, "event", `{"kind":"x","original":"n"}`, `{"event":{"original":"n","kind":"x"},"a":1}`},
		{`{"event":"str"}`, "event", `{"kind":"x"}`, `{"event":{"kind":"x"}}`},
		{`{"event":{}}`, "event", `{"k\u0069nd":"x"}`, `{"event":{"kind":"x"}}`},
	}
	for _, c := range cases {
		got := MergeObject([]byte(c.doc), c.key, []byte(c.val))
		if string(got) != c.want {
			t.Errorf("MergeObject(%s, %q, %s) = %s, want %s", c.doc, c.key, c.val, got, c.want)
		}
		if !ValidObject(got) {
			t.Errorf("MergeObject result %s is not valid", got)
		}
	}
}

func TestAppendTag(t *testing.T) {
	cases := []struct{ doc, tag, want string }{
		{`{"a":1}`, "_x", `{"a":1,"tags":["_x"]}`},
		{`{}`, "_x", `{"tags":["_x"]}`},
		{`{"tags":[],"a":1}`, "_x", `{"tags":["_x"],"a":1}`},
		{`{"tags":["a"],"b":1}`, "_x", `{"tags":["a","_x"],"b":1}`},
		{`{"tags":["a", "_x"]}`, "_x", `{"tags":["a", "_x"]}`},
		{`{"tags":"a","b":1}`, "_x", `{"tags":["a","_x"],"b":1}`},
		{`{"tags":"_x"}`, "_x", `{"tags":"_x"}`},
		{`{"tags":5}`, "_x", `{"tags":5}`},
		{`{"tags":[ ] }`, "_x", `{"tags":[ "_x"] }`},
		{`{"tags":[ "a" , 1 ] }`, "_x", `{"tags":[ "a" , 1 ,"_x"] }`},
		{`{"tags":[1, "\u005fx" ]}`, "_x", `{"tags":[1, "\u005fx" ]}`},
	}
	for _, c := range cases {
		got := AppendTag([]byte(c.doc), c.tag)
		if string(got) != c.want {
			t.Errorf("AppendTag(%s, %q) = %s, want %s", c.doc, c.tag, got, c.want)
		}
	}
}

func FuzzToolkit(f *testing.F) {
	f.Add([]byte(`{"a":{"b":"c"},"tags":["x"],"event":{"k":1}}`), "a")
	f.Add([]byte(`{"tags":"x"}`), "tags")
	f.Add([]byte(`{`), "")
	f.Fuzz(func(t *testing.T, doc []byte, key string) {
		valid := ValidObject(doc)
		if valid != (json.Valid(doc) && bytes.HasPrefix(bytes.TrimLeft(doc, " \t\r\n"), []byte("{"))) && !deep(doc) {
			t.Fatalf("ValidObject(%q) = %v disagrees with encoding/json", doc, valid)
		}
		Lookup(doc, key, key)
		check := func(name string, out []byte) {
			if valid && !ValidObject(out) {
				t.Fatalf("%s(%q, %q) = %q is not a valid object", name, doc, key, out)
			}
		}
		check("RemoveMember", RemoveMember(bytes.Clone(doc), key))
		check("SetMember", SetMember(bytes.Clone(doc), key, []byte(`{"x":1}`)))
		check("MergeObject", MergeObject(bytes.Clone(doc), key, []byte(`{"x":1}`)))
		check("AppendTag", AppendTag(bytes.Clone(doc), key))
		if valid {
			out := RemoveMember(bytes.Clone(doc), key)
			if _, ok := Lookup(out, key); ok {
				t.Fatalf("RemoveMember(%q, %q) left the member: %q", doc, key, out)
			}
		}
	})
}

// deep reports whether b nests beyond MaxDepth (where ValidObject refuses what
// encoding/json accepts).
func deep(b []byte) bool {
	d := 0
	for _, c := range b {
		switch c {
		case '{', '[':
			d++
			if d > MaxDepth {
				return true
			}
		case '}', ']':
			d--
		}
	}
	return false
}

func TestElements(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`[]`, nil, true},
		{` [ 1 , "a,]" ,{"x":[1,2]}, null ] `, []string{`1`, `"a,]"`, `{"x":[1,2]}`, `null`}, true},
		{`[1,]`, []string{`1`}, false},
		{`[1 2]`, []string{`1`}, false},
		{`[1`, []string{`1`}, false},
		{`{"a":1}`, nil, false},
		{`[1] x`, []string{`1`}, false},
		{``, nil, false},
	}
	for _, c := range cases {
		var got []string
		ok := Elements([]byte(c.in), func(e []byte) bool { got = append(got, string(e)); return true })
		if ok != c.ok || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Elements(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	n := 0
	if !Elements([]byte(`[1,2,3]`), func([]byte) bool { n++; return n < 2 }) || n != 2 {
		t.Errorf("Elements did not stop when fn returned false: %d calls", n)
	}
}

func TestMembers(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`{}`, nil, true},
		{` { "a" : 1 , "b\u0022":{"c":[1,"}"]} } `, []string{`"a"=1`, `"b\u0022"={"c":[1,"}"]}`}, true},
		{`{"a":1,}`, []string{`"a"=1`}, false},
		{`{"a" 1}`, nil, false},
		{`[1]`, nil, false},
		{`{"a":1} x`, []string{`"a"=1`}, false},
		{``, nil, false},
	}
	for _, c := range cases {
		var got []string
		ok := Members([]byte(c.in), func(k, v []byte) bool { got = append(got, string(k)+"="+string(v)); return true })
		if ok != c.ok || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Members(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	if !KeyIs([]byte(`"b\u0022"`), `b"`) || KeyIs([]byte(`"a"`), "b") || KeyIs([]byte(`"a`), "a") {
		t.Error("KeyIs")
	}
}

// keyEquals decides on the first byte and the raw key's length before decoding any escape:
// it must agree with decoding the key and comparing, for escapes of every length (the \u005f
// of "_id" included, also as the first byte) and for keys of every length around the one
// looked for.
func FuzzKeyEquals(f *testing.F) {
	for _, s := range []string{`"_id"`, `"\u005fid"`, `"_i"`, `"_idx"`, `"a\nb"`, `"\ud83d\ude00"`, `"\ud800"`, `"\u00e9"`, `"é"`, `"\\"`, `"\"_id"`} {
		f.Add([]byte(s), "_id")
		f.Add([]byte(s), "é")
		f.Add([]byte(s), "\U0001F600")
		f.Add([]byte(s), "\uFFFD")
	}
	f.Add([]byte(`"a\nb"`), `a\nb`) // the raw bytes equal the key, the decoded ones do not
	f.Add([]byte(`""`), "")         // empty keys: no first byte to compare
	f.Add([]byte(`""`), "_id")
	f.Add([]byte(`"\u0000"`), "")  // an escape never decodes to nothing
	f.Add([]byte(`"\u005f"`), "_") // an escape in the first byte
	f.Fuzz(func(t *testing.T, raw []byte, key string) {
		if skipString(raw, 0) != len(raw) {
			return // keyEquals gets well-formed strings only
		}
		want := false
		if d, err := AppendUnquoted(nil, raw); err == nil {
			want = string(d) == key
		}
		if got := keyEquals(raw, []byte(key)); got != want {
			t.Fatalf("keyEquals(%s, %q) = %v, want %v", raw, key, got, want)
		}
	})
}

// FuzzAppendUnquoted holds AppendUnquoted to encoding/json on valid JSON strings of valid
// UTF-8 (where encoding/json would replace invalid bytes, AppendUnquoted keeps them), and
// requires that it leaves dst as it was on an error.
func FuzzAppendUnquoted(f *testing.F) {
	for _, s := range []string{`""`, `"a"`, `"a\"b"`, `"\\\/\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, `"\udc00"`, `"x\"`, `"\q"`, `"é"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := AppendUnquoted([]byte("pre"), raw)
		if err != nil {
			if string(got) != "pre" {
				t.Fatalf("AppendUnquoted(%q) failed with dst changed to %q", raw, got)
			}
		}
		var want string
		n := len(raw)
		if n < 2 || raw[0] != '"' || raw[n-1] != '"' || !utf8.Valid(raw) || json.Unmarshal(raw, &want) != nil {
			return // not one valid JSON string token (encoding/json also takes whitespace around it)
		}
		if err != nil || string(got) != "pre"+want {
			t.Fatalf("AppendUnquoted(%q) = %q, %v; encoding/json: %q", raw, got, err, want)
		}
	})
}
