package drills

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// binary is the postern binary the drills run, built by TestMain.
var binary string

// full reports whether the drills run at full size (POSTERN_DRILLS=full).
var full = os.Getenv("POSTERN_DRILLS") == "full"

// TestMain builds the postern binary, runs the drills, prints their table
// (and writes it to POSTERN_DRILLS_REPORT when set), and fails on leaked
// goroutines.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "postern-drills-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "drills:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "postern")
	build := exec.Command("go", "build", "-o", binary, "github.com/postern/postern/cmd/postern")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "drills: build postern:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "drills: leaked goroutines:", err)
			code = 1
		}
	}
	table := resultsTable()
	fmt.Print(table)
	if path := os.Getenv("POSTERN_DRILLS_REPORT"); path != "" && table != "" {
		if err := writeReport(path, table); err != nil {
			fmt.Fprintln(os.Stderr, "drills:", err)
			code = 1
		}
	}
	os.Exit(code)
}
