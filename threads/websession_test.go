package threads

import (
	"context"
	"errors"
	"testing"

	"github.com/postern/postern/threads/mailkind"
	"github.com/postern/postern/threads/token"
)

// signInLinks returns the tokens of person's sign-in notifications, oldest
// first.
func signInLinks(t *testing.T, st *Store, person int64) []string {
	t.Helper()
	rows, err := st.pool.Query(context.Background(), `SELECT n.id, p.token_epoch FROM notifications n JOIN people p ON p.id = n.person_id
		WHERE n.person_id = $1 AND n.kind = $2 ORDER BY n.id`, person, mailkind.SignIn)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, epoch int64
		if err := rows.Scan(&id, &epoch); err != nil {
			t.Fatal(err)
		}
		out = append(out, st.keys.Tokens.Encode(token.Token{Purpose: token.SignIn, Subject: id, Person: person, Epoch: epoch}))
	}
	return out
}

// TestSignInRules: a link is mailed only to a member who may be written
// to, at most SignInsPerHour an hour, and a network is limited whatever
// addresses it gives; a link signs in once, within SignInTTL, under the
// person's current epoch; signing out everywhere ends every session.
func TestSignInRules(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	member := confirmedPerson(t, st, "member@example.org", "Member")
	stopped := confirmedPerson(t, st, "stopped@example.org", "Stopped")
	unconfirmed := confirmedPerson(t, st, "new@example.org", "New")
	if _, err := st.pool.Exec(ctx, `UPDATE people SET unsubscribed_at = now() WHERE id = $1`, stopped.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, `UPDATE people SET confirmed_at = NULL WHERE id = $1`, unconfirmed.ID); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"stopped@example.org", "new@example.org", "nobody@example.org", "MEMBER@Example.org"} {
		if err := st.RequestSignIn(ctx, addr, "198.51.100.1:0"); err != nil {
			t.Fatalf("request for %s: %v", addr, err)
		}
	}
	for _, p := range []Person{stopped, unconfirmed} {
		if n := len(signInLinks(t, st, p.ID)); n != 0 {
			t.Errorf("%s was mailed %d sign-in links", p.DisplayName, n)
		}
	}
	for i := 0; i < SignInsPerHour+2; i++ {
		if err := st.RequestSignIn(ctx, "member@example.org", "198.51.100.2:0"); err != nil {
			t.Fatal(err)
		}
	}
	links := signInLinks(t, st, member.ID)
	if len(links) != SignInsPerHour {
		t.Errorf("member was mailed %d links in an hour, want %d", len(links), SignInsPerHour)
	}
	for i := 4; i < SignInRequestsPerNet; i++ {
		if err := st.RequestSignIn(ctx, "nobody@example.org", "198.51.100.1:0"); err != nil {
			t.Fatalf("request %d from one network: %v", i+1, err)
		}
	}
	if err := st.RequestSignIn(ctx, "other@example.org", "198.51.100.1:0"); !errors.Is(err, ErrSignInLimited) {
		t.Errorf("request %d from one network: %v, want ErrSignInLimited", SignInRequestsPerNet+1, err)
	}

	session, m, err := st.SignIn(ctx, links[0])
	if err != nil || m.ID != member.ID || m.DisplayName != "Member" {
		t.Fatalf("sign in: %+v, %v", m, err)
	}
	if _, _, err := st.SignIn(ctx, links[0]); !errors.Is(err, ErrSignInLink) {
		t.Errorf("a used link: %v, want ErrSignInLink", err)
	}
	flip := map[byte]string{'a': "b"}[links[1][5]]
	if flip == "" {
		flip = "a"
	}
	bad := links[1][:5] + flip + links[1][6:]
	if _, _, err := st.SignIn(ctx, bad); !errors.Is(err, ErrSignInLink) {
		t.Errorf("a changed link: %v, want ErrSignInLink", err)
	}
	if _, err := st.pool.Exec(ctx, `UPDATE notifications SET created_at = now() - interval '31 minutes' WHERE person_id = $1 AND kind = 'signin'`, member.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SignIn(ctx, links[1]); !errors.Is(err, ErrSignInLink) {
		t.Errorf("an expired link: %v, want ErrSignInLink", err)
	}
	if _, err := st.pool.Exec(ctx, `UPDATE notifications SET created_at = now() WHERE person_id = $1 AND kind = 'signin'`, member.ID); err != nil {
		t.Fatal(err)
	}
	other, _, err := st.SignIn(ctx, links[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{session, other} {
		if got, err := st.SessionMember(ctx, s); err != nil || got.ID != member.ID {
			t.Fatalf("session: %+v, %v", got, err)
		}
	}
	if err := st.SignOut(ctx, session); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SessionMember(ctx, session); !errors.Is(err, ErrNotFound) {
		t.Errorf("a signed-out session: %v, want ErrNotFound", err)
	}
	if _, err := st.SessionMember(ctx, other); err != nil {
		t.Errorf("signing out one session ended another: %v", err)
	}
	if err := st.SignOutEverywhere(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SessionMember(ctx, other); !errors.Is(err, ErrNotFound) {
		t.Errorf("a session after signing out everywhere: %v, want ErrNotFound", err)
	}
	if _, _, err := st.SignIn(ctx, links[2]); !errors.Is(err, ErrSignInLink) {
		t.Errorf("a link minted before signing out everywhere: %v, want ErrSignInLink", err)
	}
}
