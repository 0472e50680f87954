// Package file implements the "file" input: it tails files matched by globs and emits their
// lines as batches, one ordering domain per file.
//
// # Streams, identity and event ids
//
// What the input reads is a stream: the content of a log file from offset 0 on, wherever it
// is held (the live file, the same file renamed by rotation, a copy made by logrotate's
// copytruncate). A stream is known by its head, its first bytes (up to 1 KiB), and a file
// holds a known stream when its first bytes agree with that head over the length both have,
// at least over the stream's first line. So a file whose head matches a known stream is that
// stream, under whatever name and inode it appears: a copy shorter than the read offset is
// the stream with nothing new in it, not a truncated file, and bytes already read are never
// read again under a different id. A file that no longer agrees with the stream read from
// it (truncated, or rewritten from the start) lets the stream go and is identified again,
// from its new first line. A file without a complete first line has no identity yet and is
// read once it has one.
//
// The rule every event id follows: a line's id is "<key>-<offset>", where key is derived
// from the host name and the first line of the line's stream (see identity.go): a pure
// function of the host, the content of the stream and the line's offset. A line read twice,
// by a restart after kill -9, after a lost registry, from a renamed file or from a copy,
// always gets the same id, and the indexer's op_type=create turns the second delivery into
// nothing. The one exception is a stream whose first line equals that of another stream the
// registry knows while their heads differ (files that begin with the same header line): its
// key is salted, and it is read only after the registry holding that key was made durable
// (written, fsync, renamed, directory fsync), so its ids do not change either. The input
// sets Event.ID once, in one place (setIDs); every later stage only reads it.
//
// Every read is checked: after each read the file's first bytes are compared with the
// stream's head, so a file truncated and written again between two scans is noticed before
// anything read from it is used, and no fragment of a line is ever emitted. Discovery
// re-globs on a ticker (poll_interval); fsnotify events on the parent directories only wake
// the reader early.
//
// # Reading and memory
//
// One goroutine reads every file (bounded by max_open_files open descriptors), with one
// read buffer reused for every read; the lines of a batch are copied into one slab owned by
// the batch, so reading allocates per batch, never per line. Slabs come from the process's
// pool of batch buffers (pipeline.Buffers) and go back to it when the batch is acknowledged
// (Batch.Recycle): a backlog is read into warm memory. The event ids of a batch share one
// string over one buffer. Between its read turns a file
// holds only its partial line (at most max_line_bytes, typically well under 1 KiB) and its
// head (at most 1 KiB). Emit blocks under backpressure, and while it blocks nothing more is
// read.
//
// # Positions
//
// Positions are committed only through a pipeline.Tracker per stream: the registry
// (<data_dir>/<stage id>/registry.json, written atomically at most once a second and at
// Close) stores Tracker.Committed, never a read position. After a crash the lines after
// the last commit are read again, with the same offsets and therefore the same event ids.
package file
