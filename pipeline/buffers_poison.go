//go:build race

package pipeline

// poison overwrites a recycled buffer in race-detector builds (the test suite's), so that
// a stage that reads an event's bytes after its batch was acknowledged reads garbage and
// fails its test, instead of reading data that happens to be still intact.
func poison(b []byte) {
	for i := range b {
		b[i] = 0xfe
	}
}

// poisonEvents overwrites recycled events in race-detector builds, as poison does buffers:
// a stage that reads an event after its batch was acknowledged finds it marked. Buffers.Events
// clears them again before it hands the slice out.
const poisonsEvents = true

func poisonEvents(s []Event) {
	for i := range s {
		s[i] = Event{ID: "poisoned: read after its batch was acknowledged", Doc: poisonDoc, Partition: -2}
	}
}

var poisonDoc = []byte(`{"poisoned":"read after its batch was acknowledged"}`)
