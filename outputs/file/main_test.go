package file

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a janitor goroutine outlives its output.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
