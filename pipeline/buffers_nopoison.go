//go:build !race

package pipeline

// poison does nothing outside race-detector builds (see buffers_poison.go).
func poison([]byte) {}

// poisonEvents clears recycled events outside race-detector builds, so that the pool keeps
// nothing they pointed to reachable.
func poisonEvents(s []Event) { clear(s) }

const poisonsEvents = false
