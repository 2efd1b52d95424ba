package mailout

import (
	"testing"

	"github.com/postern/postern/internal/threadstest"
)

// TestMain runs the package's tests with the shared PostgreSQL of
// threadstest (for the worker's tests) and fails them if they leave
// goroutines running.
func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }
