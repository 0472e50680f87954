//go:build race

package apache

// raceEnabled: the test binary was built with the race detector, which makes regex-heavy
// checks about fifteen times slower; they then take a sample (see uaCorpus).
const raceEnabled = true
