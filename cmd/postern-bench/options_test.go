package main

import (
	"slices"
	"testing"
)

// TestDefaultScenarios: the default -scenarios list parses, every
// scenario in it; a number past the last is refused.
func TestDefaultScenarios(t *testing.T) {
	o, err := parseOptions(nil)
	if err != nil {
		t.Fatalf("default options: %v", err)
	}
	if want := []int{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(o.scenarios, want) {
		t.Errorf("default scenarios %v, want %v", o.scenarios, want)
	}
	if _, err := parseOptions([]string{"-scenarios", "9"}); err == nil {
		t.Error("-scenarios 9 accepted")
	}
}
