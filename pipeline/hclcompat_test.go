package pipeline

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func TestEscapeLogstashRefs(t *testing.T) {
	cases := []struct{ src, want string }{
		{`index = "filebeat_test-%{+YYYY.MM.dd}"`, "filebeat_test-%{+YYYY.MM.dd}"},
		{`index = "a-%{[host][name]}-%{+yyyy}"`, "a-%{[host][name]}-%{+yyyy}"},
		{`index = "a-%%{x}"`, "a-%{x}"},
		{`index = "%{ if true }yes%{ endif }"`, "yes"},
		{`index = "%{~for x in [1,2] }${x}%{ endfor ~}"`, "12"},
		{`index = "%{format}"`, "%{format}"}, // "for" prefix of an identifier is not a directive
		{`index = "plain"`, "plain"},
	}
	for _, c := range cases {
		src, _ := escapeLogstashRefs([]byte(c.src))
		f, diags := hclsyntax.ParseConfig(src, "t.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Errorf("%s: %s", c.src, diags.Error())
			continue
		}
		attrs, _ := f.Body.JustAttributes()
		v, diags := attrs["index"].Expr.Value(nil)
		if diags.HasErrors() {
			t.Errorf("%s: %s", c.src, diags.Error())
			continue
		}
		if got := v.AsString(); got != c.want {
			t.Errorf("%s: got %q, want %q", c.src, got, c.want)
		}
	}
}

func TestEscapeLogstashRefsPositions(t *testing.T) {
	// The error (an unknown variable) stands after two rewritten references on line 2; its
	// column must be the one a user sees in the original file.
	orig := "a = 1\nindex = \"%{+YYYY}-%{[f]}-${nope}\"\n"
	src, m := escapeLogstashRefs([]byte(orig))
	f, diags := hclsyntax.ParseConfig(src, "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	attrs, _ := f.Body.JustAttributes()
	_, diags = attrs["index"].Expr.Value(&hcl.EvalContext{})
	if !diags.HasErrors() {
		t.Fatal("want an error for ${nope}")
	}
	m.fix(diags)
	got := diags[0].Subject.Start
	wantCol := len(`index = "%{+YYYY}-%{[f]}-${`) + 1
	if got.Line != 2 || got.Column != wantCol {
		t.Fatalf("error at %d:%d, want 2:%d", got.Line, got.Column, wantCol)
	}
	if want := len("a = 1\n") + wantCol - 1; got.Byte != want {
		t.Fatalf("byte offset %d, want %d", got.Byte, want)
	}
}
