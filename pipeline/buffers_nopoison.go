//go:build !race

package pipeline

// poison does nothing outside race-detector builds (see buffers_poison.go).
func poison([]byte) {}
