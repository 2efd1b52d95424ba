package doctor

import (
	"testing"

	"github.com/postern/postern/internal/threadstest"
)

// TestMain runs the tests with the shared PostgreSQL of threadstest and
// fails them if they leave goroutines running.
func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }
