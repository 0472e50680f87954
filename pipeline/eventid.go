package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// EventIDPrefix derives the offset-independent part of a line event's id from the host name
// and the identity of the file stream (inputs/file: its first line). The file input
// computes it once per stream and sets every event's ID with AppendEventID.
func EventIDPrefix(host, identity string) string {
	sum := sha256.Sum256([]byte(host + "\x00" + identity))
	return hex.EncodeToString(sum[:10])
}

// AppendEventID appends the id of the line at offset in the file with the given prefix:
// "<prefix>-<offset>". The same line read or sent twice always gets the same id, which the
// indexer uses as the Elasticsearch _id (exactly-once through op_type=create).
func AppendEventID(dst []byte, prefix string, offset int64) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, offset, 10)
}
