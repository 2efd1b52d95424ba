package app

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/threadstest"
)

// TestOpenStoreErrorsHideURL: an error opening the database says what
// failed and no part of the URL: not the password, user, host, port or
// database name, even when an unencoded @ or # in the password moves
// its pieces into other fields (QA tryout).
func TestOpenStoreErrorsHideURL(t *testing.T) {
	t.Parallel()
	missing, err := url.Parse(threadstest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	missing.Path = "/SecretDbName"
	for _, tc := range []struct {
		name, url, want string
		hidden          []string
	}{
		{"refused", "postgres://u:SuperSecretPw@127.0.0.1:5/db", "connection refused",
			[]string{"SuperSecretPw", "user=", "database=", "127.0.0.1", ":5"}},
		{"unencoded password", "postgres://u:p@ss#w/rd@127.0.0.1:5/db", "host name",
			[]string{"p@ss", "ss#w", "w/rd", "rd@", "127.0.0.1", "user=", "database="}},
		{"bad port", "postgres://u:SuperSecretPw@somehost:notaport/db", "not a valid",
			[]string{"SuperSecretPw", "somehost", "notaport"}},
		{"no such database", missing.String(), "database does not exist",
			[]string{"SecretDbName", "database=", missing.Host}},
	} {
		cfg := config.Default()
		cfg.Store.DatabaseURL = tc.url
		st, done, err := OpenStore(context.Background(), cfg, StoreOptions{})
		if err == nil {
			done()
			_ = st
			t.Errorf("%s: OpenStore succeeded", tc.name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "POSTERN_DATABASE_URL") || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: error %q does not name POSTERN_DATABASE_URL and %q", tc.name, msg, tc.want)
		}
		for _, h := range tc.hidden {
			if strings.Contains(msg, h) {
				t.Errorf("%s: error %q shows %q", tc.name, msg, h)
			}
		}
	}
}
