//go:build !race

package apache

// raceEnabled: the test binary was built without the race detector (see race_test.go).
const raceEnabled = false
