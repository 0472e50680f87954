package file

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/logpipe/logpipe/pipeline"
)

// registryVersion is the version of the registry file format.
const registryVersion = 1

// regEntry is the persisted state of one file identity.
type regEntry struct {
	// Key is the identity: the fingerprint (hex sha256 of the first 1024 bytes), or
	// "<device>:<inode>" for a file that was shorter than that.
	Key string `json:"key"`
	// Offset is the committed offset: every line before it was acknowledged.
	Offset   int64  `json:"offset"`
	Path     string `json:"path"`
	Device   uint64 `json:"device"`
	Inode    uint64 `json:"inode"`
	IDPrefix string `json:"id_prefix"`
	// HeadLen and HeadSHA describe the leading bytes of a file tracked by inode (sha256 of
	// its first HeadLen bytes), to tell it from a later file that reuses the inode.
	HeadLen  int       `json:"head_len,omitempty"`
	HeadSHA  string    `json:"head_sha,omitempty"`
	LastSeen time.Time `json:"last_seen"`
}

// regFile is the registry file: the entries, as JSON, with their sha256.
type regFile struct {
	Version  int             `json:"version"`
	Checksum string          `json:"checksum"`
	Entries  json.RawMessage `json:"entries"`
}

// CorruptRegistryError reports a registry file that cannot be trusted. The input refuses
// to start rather than silently reading every file again.
type CorruptRegistryError struct {
	Path   string
	Reason string
}

func (e *CorruptRegistryError) Error() string {
	return fmt.Sprintf("registry %s is corrupt (%s); logpipe will not reset it silently: "+
		"move it away (mv %s %s.bad) to start over, and files are then read again according to start_position",
		e.Path, e.Reason, e.Path, e.Path)
}

// loadRegistry reads the registry at path; a missing file is an empty registry.
func loadRegistry(path string) ([]regEntry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("read registry: %w", err))
	}
	corrupt := func(format string, args ...any) error {
		return pipeline.Permanent(&CorruptRegistryError{Path: path, Reason: fmt.Sprintf(format, args...)})
	}
	var rf regFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rf); err != nil {
		return nil, corrupt("not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, corrupt("trailing data after the JSON object")
	}
	if rf.Version != registryVersion {
		return nil, corrupt("unknown version %d, want %d", rf.Version, registryVersion)
	}
	sum := sha256.Sum256(rf.Entries)
	if hex.EncodeToString(sum[:]) != rf.Checksum {
		return nil, corrupt("checksum mismatch")
	}
	var entries []regEntry
	if err := json.Unmarshal(rf.Entries, &entries); err != nil {
		return nil, corrupt("bad entries: %v", err)
	}
	for i, e := range entries {
		if e.Key == "" || e.Offset < 0 || e.HeadLen < 0 || e.HeadLen > fingerprintBytes {
			return nil, corrupt("entry %d is invalid", i)
		}
	}
	return entries, nil
}

// saveRegistry writes entries to path atomically: a temporary file in the same directory,
// fsync, rename over path, fsync of the directory.
func saveRegistry(path string, entries []regEntry) error {
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	if entries == nil {
		entries = []regEntry{}
	}
	raw, err := json.Marshal(entries)
	if err != nil {
		return fmt.Errorf("encode registry: %w", err)
	}
	sum := sha256.Sum256(raw)
	data, err := json.Marshal(regFile{Version: registryVersion, Checksum: hex.EncodeToString(sum[:]), Entries: raw})
	if err != nil {
		return fmt.Errorf("encode registry: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create registry directory: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("write registry: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write registry %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write registry: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync registry directory: %w", err)
	}
	err = d.Sync()
	d.Close()
	if err != nil {
		return fmt.Errorf("sync registry directory %s: %w", dir, err)
	}
	return nil
}
