package threads

import (
	"strings"
	"testing"
)

func TestPostmasterRecipients(t *testing.T) {
	keys, err := DeriveKeys([]byte(strings.Repeat("k", 32)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAddresses(Config{Domain: "forum.test"}, keys)
	for _, addr := range []string{"postmaster@forum.test", "<Postmaster@Forum.Test>", "abuse@forum.test", "ABUSE@forum.test", "Postmaster", "postmaster"} {
		if r, err := a.Parse(addr); err != nil || r.Kind != RcptPostmaster {
			t.Errorf("%s: %v %v, want the postmaster", addr, r.Kind, err)
		}
	}
	for _, addr := range []string{"postmaster@other.test", "abuse", "postmasters@forum.test"} {
		if r, err := a.Parse(addr); err == nil {
			t.Errorf("%s: accepted as %v", addr, r.Kind)
		}
	}
}
