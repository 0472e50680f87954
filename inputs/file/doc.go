// Package file implements the "file" input: it tails files matched by globs and emits their
// lines as batches, one ordering domain per file.
//
// Files are identified by a fingerprint (the hex sha256 of their first 1024 bytes, as
// Filebeat 9 and the OpenTelemetry filelog receiver do); a file shorter than that is
// tracked by device and inode, and its registry entry migrates to the fingerprint once the
// file has grown, without reading it again. Discovery re-globs on a ticker; fsnotify events
// on the parent directories are only a hint that wakes the reader early.
//
// One goroutine reads every file (bounded by max_open_files open descriptors), with one
// read buffer reused for every read; the lines of a batch are copied into one slab owned by
// the batch, so reading allocates per batch, never per line. Emit blocks under
// backpressure, and while it blocks nothing more is read.
//
// Positions are committed only through a pipeline.Tracker per file: the registry
// (<data_dir>/<stage id>/registry.json, written atomically at most once a second and at
// Close) stores Tracker.Committed, never a read position. After a crash the lines after
// the last commit are read again, with the same offsets and therefore the same event ids.
package file
