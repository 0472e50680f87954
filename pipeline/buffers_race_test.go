//go:build race

package pipeline

// raceEnabled: the test binary was built with the race detector, so recycled buffers are
// poisoned (buffers_poison.go).
const raceEnabled = true
