package app

import (
	"context"
	"testing"

	"github.com/postern/postern/internal/threadstest"
)

// TestConnectTurnsJITOff: Postern's connections run without JIT
// compilation (6 s of compiling for a 23 ms question page), unless the
// database URL asks for it.
func TestConnectTurnsJITOff(t *testing.T) {
	ctx := context.Background()
	url := threadstest.URL(t)
	for _, c := range []struct{ url, want string }{{url, "off"}, {url + "&jit=on", "on"}} {
		pool, err := connect(ctx, c.url, 1)
		if err != nil {
			t.Fatal(err)
		}
		var jit string
		err = pool.QueryRow(ctx, `SHOW jit`).Scan(&jit)
		pool.Close()
		if err != nil {
			t.Fatal(err)
		}
		if jit != c.want {
			t.Errorf("jit %q, want %q", jit, c.want)
		}
	}
}
