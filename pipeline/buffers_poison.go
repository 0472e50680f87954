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
