package threads

import (
	"context"
	"errors"
	"testing"
)

// TestForgetPersonName: forgetting erases the address either way; the
// display name stays, or becomes "anonymous" when asked.
func TestForgetPersonName(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	for _, tc := range []struct {
		addr, name string
		anonymous  bool
		want       string
	}{
		{"kept@example.org", "Kept Name", false, "Kept Name"},
		{"gone@example.org", "Gone Name", true, "anonymous"},
	} {
		p := confirmedPerson(t, st, tc.addr, tc.name)
		f, err := st.ForgetPerson(ctx, tc.addr, tc.anonymous)
		if err != nil || f.PersonID != p.ID {
			t.Fatalf("forget %s: %+v, %v", tc.name, f, err)
		}
		var name string
		var hash, enc []byte
		if err := st.pool.QueryRow(ctx, `SELECT display_name, address_hash, address_enc FROM people WHERE id = $1`, p.ID).Scan(&name, &hash, &enc); err != nil {
			t.Fatal(err)
		}
		if name != tc.want || hash != nil || enc != nil {
			t.Errorf("after forget (anonymous %v): name %q, hash kept %v, sealed kept %v", tc.anonymous, name, hash != nil, enc != nil)
		}
		if _, err := st.ForgetPerson(ctx, tc.addr, tc.anonymous); !errors.Is(err, ErrUnknownAddress) {
			t.Errorf("forgetting again: %v, want ErrUnknownAddress", err)
		}
	}
}
