package main

import (
	"os"
	"testing"

	"github.com/postern/postern/internal/threadstest"
)

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		// A child process of a test (see startDev): be the postern binary.
		main()
		return
	}
	threadstest.MainVerifyNoLeaks(m)
}
