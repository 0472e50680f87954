package codecs

// Unhex returns the value of the hexadecimal digit c (0-9, a-f, A-F), or -1 when c is not
// one. It is the digit decoder of the JSON toolkit's \uXXXX escapes, shared with parsers
// that decode %XX escapes.
func Unhex(c byte) int { return unhex(c) }
