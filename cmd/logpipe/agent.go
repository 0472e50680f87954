package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/logpipe/logpipe/pipeline"
)

// agentIDFile is the name of the file in data_dir that holds the stable agent id.
const agentIDFile = "agent.id"

// newAgent identifies this process: the host name, the stable agent id kept in
// dataDir/agent.id (created on first run), a new ephemeral id, and the version.
func newAgent(dataDir, version string) (pipeline.Agent, error) {
	host, err := os.Hostname()
	if err != nil {
		return pipeline.Agent{}, fmt.Errorf("host name: %w", err)
	}
	id, err := loadOrCreateAgentID(dataDir)
	if err != nil {
		return pipeline.Agent{}, err
	}
	eph, err := newUUID()
	if err != nil {
		return pipeline.Agent{}, err
	}
	return pipeline.Agent{Hostname: host, ID: id, EphemeralID: eph, Version: version}, nil
}

// loadOrCreateAgentID returns the UUID stored in dir/agent.id, creating dir and the file
// when needed. The file is written atomically (temp file, fsync, link into place, fsync of
// the directory), so a crash never leaves a partial id, and two processes starting at once
// agree on one id (the one linked first).
func loadOrCreateAgentID(dir string) (string, error) {
	path := filepath.Join(dir, agentIDFile)
	if id, err := readAgentID(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("data_dir: %w", err)
	}
	id, err := newUUID()
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, agentIDFile+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("agent id: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(id + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("agent id: write %s: %w", tmp.Name(), err)
	}
	// Link, unlike rename, fails when the target exists: a concurrent first run that
	// won the race keeps its id and this one adopts it.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readAgentID(path)
		}
		if err := os.Rename(tmp.Name(), path); err != nil { // file systems without hard links
			return "", fmt.Errorf("agent id: %w", err)
		}
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the new directory entry durable; best effort
		d.Close()
	}
	return id, nil
}

func readAgentID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("agent id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if !isUUID(id) {
		return "", fmt.Errorf("agent id: %s holds %q, not a UUID; remove the file to generate a new id", path, id)
	}
	return id, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("uuid: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
