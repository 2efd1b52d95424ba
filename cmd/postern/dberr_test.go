package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDatabaseErrorsHideURL: the QA tryout's URLs given to a read
// command and to migrate fail with an error that names the setting and
// shows no part of the URL, even the pieces an unencoded @ or # moves
// out of the password.
func TestDatabaseErrorsHideURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hidden := []string{"SuperSecretPw", "p@ss", "ss#w", "w/rd", "rd@", "127.0.0.1", "user=", "database="}
	for _, url := range []string{"postgres://u:SuperSecretPw@127.0.0.1:5/db", "postgres://u:p@ss#w/rd@127.0.0.1:5/db"} {
		for _, cmd := range []string{"threads", "migrate"} {
			var out, errb bytes.Buffer
			err := run(ctx, []string{cmd, "--database-url", url}, &out, &errb)
			if err == nil {
				t.Errorf("%s with %s succeeded", cmd, url)
				continue
			}
			all := err.Error() + out.String() + errb.String()
			if !strings.Contains(all, "cannot connect to the database (POSTERN_DATABASE_URL)") {
				t.Errorf("%s: %q does not say it cannot connect", cmd, all)
			}
			for _, h := range hidden {
				if strings.Contains(all, h) {
					t.Errorf("%s: %q shows %q", cmd, all, h)
				}
			}
		}
	}
}
