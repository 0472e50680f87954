package codecs

import "github.com/logpipe/logpipe/pipeline"

// MergeInputFields is the pipeline.DocFieldsFunc of logpipe: it appends doc to dst with the
// input's fields and tags of f merged in (see pipeline.DocFieldsFunc). The runner calls it
// for the document events an input with fields or tags emits (the kafka input); line
// events get the same members from the json encoder instead (pipeline.InputFields.Line).
func MergeInputFields(dst, scratch, doc []byte, f *pipeline.InputFields) ([]byte, []byte) {
	w := append(scratch[:0], doc...)
	if f.Object != nil {
		if f.UnderRoot {
			for _, m := range f.Members {
				if m.Value[0] == '{' {
					w = MergeObject(w, m.Key, m.Value)
				} else {
					w = SetMember(w, m.Key, m.Value)
				}
			}
		} else {
			w = MergeObject(w, "fields", f.Object)
		}
	}
	for _, t := range f.Tags {
		w = AppendTag(w, t)
	}
	return append(dst, w...), w
}
