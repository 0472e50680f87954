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

// registryVersion is the version of the registry file format written. Version 1
// registries (identities by fingerprint or device:inode) are read and upgraded.
const registryVersion = 2

// regEntry is the persisted state of one file stream.
type regEntry struct {
	// Key is the stream's event id prefix, which also identifies it (see identity.go).
	Key string `json:"key"`
	// Offset is the committed offset: every line before it was acknowledged.
	Offset int64  `json:"offset"`
	Path   string `json:"path"`
	Device uint64 `json:"device"`
	Inode  uint64 `json:"inode"`
	// Head is the stream's first bytes (up to 1024), by which a file holding the stream
	// is recognised wherever and under whatever name it appears.
	Head []byte `json:"head,omitempty"`
	// HeadLen and HeadSHA (sha256 of the first HeadLen bytes) identify a stream carried
	// over from a version 1 registry until a file holding it is found again; IDPrefix is
	// its key in version 1 files.
	HeadLen  int       `json:"head_len,omitempty"`
	HeadSHA  string    `json:"head_sha,omitempty"`
	IDPrefix string    `json:"id_prefix,omitempty"`
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

// loadRegistry reads the registry at path; a missing file is an empty registry. host is
// the agent's host name, from which version 1 entries without an id prefix derived theirs.
func loadRegistry(path, host string) ([]regEntry, error) {
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
	if rf.Version != 1 && rf.Version != registryVersion {
		return nil, corrupt("unknown version %d, want 1 or %d", rf.Version, registryVersion)
	}
	sum := sha256.Sum256(rf.Entries)
	if hex.EncodeToString(sum[:]) != rf.Checksum {
		return nil, corrupt("checksum mismatch")
	}
	var entries []regEntry
	if err := json.Unmarshal(rf.Entries, &entries); err != nil {
		return nil, corrupt("bad entries: %v", err)
	}
	for i := range entries {
		e := &entries[i]
		if rf.Version == 1 {
			upgradeV1(e, host)
		}
		if e.Key == "" || e.Offset < 0 || e.HeadLen < 0 || e.HeadLen > fingerprintBytes || len(e.Head) > fingerprintBytes {
			return nil, corrupt("entry %d is invalid", i)
		}
		if len(e.Head) == 0 {
			if _, err := decodeSum(e.HeadSHA); err != nil {
				return nil, corrupt("entry %d has neither head nor a valid head_sha", i)
			}
		}
	}
	return entries, nil
}

// upgradeV1 turns a version 1 entry (keyed by fingerprint or device:inode, with its id
// prefix beside) into a version 2 entry keyed by its id prefix, identified by the sha256
// of its first bytes until a file holding it is found.
func upgradeV1(e *regEntry, host string) {
	if len(e.Key) == 2*sha256.Size { // a fingerprint: sha256 of the first 1024 bytes
		e.HeadLen, e.HeadSHA = fingerprintBytes, e.Key
	}
	if e.IDPrefix == "" {
		e.IDPrefix = pipeline.EventIDPrefix(host, e.Key)
	}
	e.Key, e.IDPrefix = e.IDPrefix, ""
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
