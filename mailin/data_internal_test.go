package mailin

import (
	"math/rand/v2"
	"testing"
)

// TestLineCheckerAgreesWithBareNewline: a message checked in pieces, cut
// anywhere (between a CR and its LF too), is judged as it is whole.
func TestLineCheckerAgreesWithBareNewline(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\r\n")
	for range 20000 {
		msg := make([]byte, rng.IntN(12))
		for i := range msg {
			msg[i] = alphabet[rng.IntN(len(alphabet))]
		}
		c := &lineChecker{}
		bare := false
		for rest := msg; len(rest) > 0; {
			k := 1 + rng.IntN(len(rest))
			bare = c.bare(rest[:k]) || bare
			rest = rest[k:]
		}
		bare = bare || c.end()
		if want := bareNewline(msg); bare != want {
			t.Fatalf("%q: checked in pieces %v, whole %v", msg, bare, want)
		}
	}
}
