package app

import (
	"testing"
	"time"
)

// TestInsertNotifyCooldown pins the bounds of the store client's notify
// cooldown: long enough that intake and processing commits do not queue
// on PostgreSQL's notify lock one by one, and well under the workers'
// poll interval (200 ms), which bounds how long an unnotified job waits.
func TestInsertNotifyCooldown(t *testing.T) {
	if insertNotifyCooldown < 10*fetchCooldown {
		t.Errorf("insertNotifyCooldown %v: a notification in nearly every commit serialises commits", insertNotifyCooldown)
	}
	if insertNotifyCooldown > 50*time.Millisecond {
		t.Errorf("insertNotifyCooldown %v: new jobs would wait too long to be seen", insertNotifyCooldown)
	}
}
