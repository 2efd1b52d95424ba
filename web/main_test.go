package web

import (
	"testing"

	"github.com/postern/postern/internal/threadstest"
)

// TestMain runs the tests through threadstest, whose private PostgreSQL
// the store-backed tests use; it fails on goroutines left running.
func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }
