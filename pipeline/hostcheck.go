package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// FileAttr is a file named by a configuration attribute (a tls block's ca_file, cert_file
// and key_file, every *_file attribute such as password_file or api_key_file).
type FileAttr struct {
	Stage string // stage id ("output.kafka.main"), or "kibana" for the root kibana block
	Attr  string // attribute path, e.g. "tls.ca_file" or "dead_letter.sasl.password_file"
	Path  string
	// Range is where the attribute is written (the block's header when unknown).
	Range hcl.Range
}

// FileAttrs lists the files the configuration names in *_file attributes, in file order of
// the stages (inputs, filters, outputs), then the kibana block's.
func (c *Config) FileAttrs() []FileAttr {
	var out []FileAttr
	for _, stages := range [][]StageConfig{c.Inputs, c.Filters, c.Outputs} {
		for _, s := range stages {
			if s.Config == nil {
				continue
			}
			walkFileAttrs(reflect.ValueOf(s.Config), "", func(attr, path string) {
				out = append(out, FileAttr{Stage: s.ID(), Attr: attr, Path: path, Range: c.stageAttrRange(s, attr)})
			})
		}
	}
	if k := c.Kibana; k != nil {
		for _, f := range []struct{ attr, path string }{{"password_file", k.PasswordFile}, {"api_key_file", k.APIKeyFile}} {
			if f.path != "" {
				out = append(out, FileAttr{Stage: "kibana", Attr: "kibana." + f.attr, Path: f.path, Range: c.rootAttrRange("kibana", f.attr)})
			}
		}
	}
	return out
}

// walkFileAttrs calls fn for every non-empty string attribute of v (a struct or a pointer
// to one) whose name ends in "_file", descending into nested blocks.
func walkFileAttrs(v reflect.Value, prefix string, fn func(attr, path string)) {
	walkStrings(v, prefix, func(attr string, values []string) {
		if strings.HasSuffix(attr, "_file") && len(values) == 1 && values[0] != "" {
			fn(attr, values[0])
		}
	})
}

// CheckHost checks, on the host it runs on, what the configuration names outside itself
// and what Load cannot know: that every file named by a *_file attribute (certificates,
// keys, password files) exists and is readable, and that data_dir is a usable directory
// (or can be created). Problems are errors at the attribute concerned, with the fix; the
// checks run as the current user, so run them as the user the service runs as.
//
// `logpipe validate` calls it unless asked to check the file's syntax only (a file meant for
// another host); a reload calls it before replacing a running pipeline.
func CheckHost(c *Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, f := range c.FileAttrs() {
		if err := CheckReadableFile(f.Path); err != nil {
			r := f.Range
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unusable " + f.Attr,
				Detail:   fmt.Sprintf("%v (in %s).", err, f.Stage),
				Subject:  &r,
			})
		}
	}
	if err := CheckDataDir(c.DataDir); err != nil {
		r := c.rootAttrRange("", "data_dir")
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unusable data_dir",
			Detail:   fmt.Sprintf("%v.", err),
			Subject:  &r,
		})
	}
	sortDiagnostics(diags)
	return diags
}

// CheckReadableFile reports why path cannot serve as a certificate, key or secret file: it
// does not exist, is a directory, or cannot be opened for reading by this process.
func CheckReadableFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist: create it, or fix the path", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s cannot be reached (permission denied on a directory above it): let the user logpipe runs as (uid %d) traverse its directories", path, os.Getuid())
	case err != nil:
		return err
	case st.IsDir():
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("%s is not readable by this user (uid %d): give the user logpipe runs as read access, for example chgrp logpipe %s && chmod g+r %s", path, os.Getuid(), path, path)
		}
		return err
	}
	return f.Close()
}

// CheckDataDir reports why dir cannot hold logpipe's state: it is not a directory, or this
// process can neither write into it nor create it. It creates nothing.
func CheckDataDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Errorf("%s exists and is not a directory: point data_dir at a directory", dir)
	case err == nil:
		if err := syscall.Access(dir, 2|1); err != nil { // W_OK|X_OK
			return fmt.Errorf("%s is not writable by this user (uid %d): chown it to the user logpipe runs as (the packaged units run as logpipe), or point data_dir elsewhere", dir, os.Getuid())
		}
		return nil
	case !missing(err):
		return fmt.Errorf("%s: %w", dir, err)
	}
	// Missing: logpipe creates it at start, which needs a writable existing ancestor.
	parent := filepath.Dir(filepath.Clean(dir))
	for {
		st, err := os.Stat(parent)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s does not exist and cannot be created: %s is not a directory", dir, parent)
			}
			if err := syscall.Access(parent, 2|1); err != nil {
				return fmt.Errorf("%s does not exist and cannot be created: %s is not writable by this user (uid %d); create it first, owned by the user logpipe runs as (install -d -o logpipe %s)", dir, parent, os.Getuid(), dir)
			}
			return nil
		}
		if !missing(err) {
			return fmt.Errorf("%s: %w", parent, err)
		}
		next := filepath.Dir(parent)
		if next == parent {
			return fmt.Errorf("%s cannot be created", dir)
		}
		parent = next
	}
}

// missing reports whether a stat error means that the path does not exist (also when a
// component above it is a file).
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// stageAttrRange is where attribute path of stage s is written, mapped to the file.
func (c *Config) stageAttrRange(s StageConfig, path string) hcl.Range {
	if s.block == nil {
		return s.DeclRange
	}
	r := attrRange(s.block, path)
	if c.src != nil {
		c.src.pm.rng(&r)
	}
	return r
}

// rootAttrRange is where attribute name of root block blockType ("" for the root body
// itself) is written; the start of the file when it is not written.
func (c *Config) rootAttrRange(blockType, name string) hcl.Range {
	start := hcl.Range{Filename: c.File, Start: hcl.InitialPos, End: hcl.InitialPos}
	if c.src == nil {
		return start
	}
	body, ok := c.src.body.(*hclsyntax.Body)
	if !ok {
		return start
	}
	r := start
	if blockType != "" {
		found := false
		for _, b := range body.Blocks {
			if b.Type == blockType {
				body, r, found = b.Body, b.DefRange(), true
				break
			}
		}
		if !found {
			return start
		}
	}
	if a, ok := body.Attributes[name]; ok {
		r = a.Expr.Range()
	}
	c.src.pm.rng(&r)
	return r
}
