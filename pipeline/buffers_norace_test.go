//go:build !race

package pipeline

// raceEnabled: the test binary was built without the race detector (see buffers_race_test.go).
const raceEnabled = false
