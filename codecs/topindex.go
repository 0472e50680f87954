package codecs

import (
	"encoding/binary"

	"github.com/logpipe/logpipe/pipeline"
)

// TopIndex is an index of the top-level members of a document, as the json decoder found
// them while it wrote the document (pipeline.Event.Top): a filter that needs the members
// (the apache filter) reads them here instead of walking the document a second time.
//
// It is stored right after the document in the same buffer, so it lives and is recycled
// with it: for each member four little-endian uint32, the offsets in the document of the
// key's opening quote, just past its closing quote, of the value and just past the value;
// then the length of the document it describes. An index is used only for a document of
// that length (see TopOf); a stage that rewrites a document drops its index
// (pipeline.Event.SetDoc).
type TopIndex []byte

// topMemberSize is the encoded size of one member of a TopIndex.
const topMemberSize = 16

// TopOf returns the index of e's document when e.Top holds a well-formed one for a
// document of e.Doc's length.
func TopOf(e *pipeline.Event) (TopIndex, bool) {
	t := e.Top
	if len(t) < 4 || (len(t)-4)%topMemberSize != 0 || int(binary.LittleEndian.Uint32(t[len(t)-4:])) != len(e.Doc) {
		return nil, false
	}
	return TopIndex(t), true
}

// Len is the number of members.
func (t TopIndex) Len() int { return (len(t) - 4) / topMemberSize }

// Member returns the offsets of member i: its key is doc[keyStart:keyEnd] (with quotes),
// its value doc[valStart:valEnd].
func (t TopIndex) Member(i int) (keyStart, keyEnd, valStart, valEnd int) {
	m := t[i*topMemberSize : (i+1)*topMemberSize]
	return int(binary.LittleEndian.Uint32(m)), int(binary.LittleEndian.Uint32(m[4:])),
		int(binary.LittleEndian.Uint32(m[8:])), int(binary.LittleEndian.Uint32(m[12:]))
}

// appendTopMember appends one member to an index being built.
func appendTopMember(dst []byte, keyStart, keyEnd, valStart, valEnd int) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(keyStart))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(keyEnd))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(valStart))
	return binary.LittleEndian.AppendUint32(dst, uint32(valEnd))
}
