package mailkind

import "testing"

// TestValues pins the stored values: they are in the notifications table
// and name the template files, so they never change.
func TestValues(t *testing.T) {
	want := []string{"new_question", "answer", "comment", "posted", "selected", "moderate",
		"confirm", "confirm_subscribe", "unsubscribed", "rejected", "welcome", "help", "command", "signin"}
	all := All()
	if len(all) != len(want) {
		t.Fatalf("All() has %d kinds, want %d", len(all), len(want))
	}
	for i, k := range all {
		if string(k) != want[i] {
			t.Errorf("All()[%d] = %q, want %q", i, k, want[i])
		}
	}
}

func TestSystem(t *testing.T) {
	system := map[Kind]bool{Confirm: true, ConfirmSubscribe: true, Unsubscribed: true, Rejected: true, Welcome: true, Help: true, Command: true, SignIn: true}
	for _, k := range All() {
		if k.System() != system[k] {
			t.Errorf("%s.System() = %v, want %v", k, k.System(), system[k])
		}
	}
}

func TestFromPoster(t *testing.T) {
	for _, k := range All() {
		want := k == NewQuestion || k == Answer || k == Comment
		if k.FromPoster() != want {
			t.Errorf("%s.FromPoster() = %v, want %v", k, k.FromPoster(), want)
		}
	}
}
