package e2e

import (
	"testing"

	"github.com/logpipe/logpipe/e2e/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
