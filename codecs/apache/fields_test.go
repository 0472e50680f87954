package apache

import "testing"

// TestPercentDecode: %XX escapes are decoded, and a '%' without two hex digits after it is
// kept as written, as Elasticsearch's uri_parts processor does.
func TestPercentDecode(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"/plain/path.html": "/plain/path.html",
		"/a%20b":           "/a b",
		"%41%42":           "AB",
		"%":                "%",
		"%4":               "%4",
		"a%zzb":            "a%zzb",
		"%%41":             "%A",
		"x%4":              "x%4",
		"%e2%82%ACend%2":   "\u20acend%2",
	} {
		if got := string(percentDecode(nil, []byte(in))); got != want {
			t.Errorf("percentDecode(%q) = %q, want %q", in, got, want)
		}
		var w Writer
		if got := string(w.percentDecoded([]byte(in))); got != want {
			t.Errorf("percentDecoded(%q) = %q, want %q", in, got, want)
		}
	}
}
