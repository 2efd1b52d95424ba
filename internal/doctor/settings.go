package doctor

import (
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strings"

	"github.com/postern/postern/threads"
)

// CheckBaseURL checks base_url: an absolute http(s) URL, https so that
// mail clients offer RFC 8058 one-click unsubscribe (they do only for an
// https List-Unsubscribe URL). http on loopback (trying Postern out) is
// accepted as is.
func CheckBaseURL(raw string) Result {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fix("base-url", fmt.Sprintf("base_url %q is not an absolute http(s) URL: links in mail and pages break", raw),
			`base_url = "https://FORUM-HOST" (POSTERN_BASE_URL)`)
	}
	if u.Scheme == "https" {
		return ok("base-url", raw+" (https: one-click unsubscribe, RFC 8058)")
	}
	if isLoopbackHost(u.Hostname()) {
		return ok("base-url", raw+" is on loopback: links work on this machine only (trying Postern out)")
	}
	u.Scheme = "https"
	return warn("base-url", raw+" is not https: mail clients show no one-click unsubscribe (RFC 8058) and sign-in links cross the network in clear",
		fmt.Sprintf("base_url = %q (POSTERN_BASE_URL), served over TLS by a reverse proxy", u.String()))
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || (ip != nil && ip.IsLoopback())
}

// CheckDatabase is the result of connecting to database_url (err from
// app.Connect: it names no part of the URL).
func CheckDatabase(set bool, err error) Result {
	switch {
	case !set:
		return fix("database", "database_url is not set", `database_url = "postgres://postern@/postern?host=/run/postgresql" (POSTERN_DATABASE_URL)`)
	case err != nil:
		return fix("database", err.Error(), "correct database_url (POSTERN_DATABASE_URL), and check that PostgreSQL runs and lets the user in")
	}
	return ok("database", "connected")
}

// CheckSchema checks that every migration of this binary is applied.
func CheckSchema(s threads.Schema, err error) Result {
	switch {
	case err != nil:
		return fix("schema", "cannot read the schema version: "+err.Error(), "postern migrate")
	case s.Version == 0:
		return fix("schema", "the database has no Postern tables", "postern migrate")
	case s.Version < s.Latest:
		return fix("schema", fmt.Sprintf("schema version %d, this binary needs %d", s.Version, s.Latest), "postern migrate")
	case s.RiverApplied < s.RiverAll:
		return fix("schema", fmt.Sprintf("job queue (River) schema at %d of %d migrations", s.RiverApplied, s.RiverAll), "postern migrate")
	case s.Version > s.Latest:
		return warn("schema", fmt.Sprintf("schema version %d is newer than this binary's %d: an older postern on a migrated database", s.Version, s.Latest),
			"run the newest postern binary")
	}
	return ok("schema", fmt.Sprintf("version %d, current", s.Version))
}

// KeyFacts is what loading the secret and the sealing keys gave.
type KeyFacts struct {
	// SecretFile and SealingKeysFile are the settings; their modes are
	// the files' permissions (0 when unknown).
	SecretFile, SealingKeysFile string
	SecretMode, SealingMode     fs.FileMode
	// Err is why the keys could not be loaded (app.LoadKeys), naming the
	// file; RoundTrip why sealing and opening with them failed.
	Err, RoundTrip error
	// Current is the id of the key sealing new data.
	Current int
}

// CheckKeys checks the server secret and the sealing keys: readable,
// valid, usable to seal and open, and not readable by others.
func CheckKeys(f KeyFacts) []Result {
	if f.SecretFile == "" {
		return []Result{fix("secret", "secret_file is not set: tokens and sealed addresses need the server secret",
			`head -c 48 /dev/urandom | base64 > /etc/postern/secret; chmod 600 /etc/postern/secret; secret_file = "/etc/postern/secret"`)}
	}
	if f.Err != nil {
		what := "secret"
		if strings.Contains(f.Err.Error(), "sealing keys") {
			what = "sealing-keys"
		}
		return []Result{fix(what, f.Err.Error(), "correct the file; if it is lost, restore it from the backup (without it sealed addresses and tokens in sent mail are lost)")}
	}
	if f.RoundTrip != nil {
		return []Result{fix("sealing-keys", "sealing with the current key failed: "+f.RoundTrip.Error(), "check sealing_keys_file")}
	}
	out := []Result{modeResult("secret", f.SecretFile, f.SecretMode)}
	if f.SealingKeysFile == "" {
		return append(out, ok("sealing-keys", "no sealing_keys_file: key 1, derived from the secret, seals new data"))
	}
	r := modeResult("sealing-keys", f.SealingKeysFile, f.SealingMode)
	if r.Status == OK {
		r.Detail = fmt.Sprintf("%s read; key %d seals new data (sealed and opened a test value)", f.SealingKeysFile, f.Current)
	}
	return append(out, r)
}

// modeResult warns when path (of mode) may be read by others than its
// owner and group, or written by its group: the layout README's
// Deploying section makes, root:postern 0640, is right (postern reads,
// cannot change it).
func modeResult(check, path string, mode fs.FileMode) Result {
	if mode&0o027 != 0 {
		return warn(check, fmt.Sprintf("%s may be read or changed by other users (mode %04o)", path, mode.Perm()),
			fmt.Sprintf("chmod 640 %s (owned by root, group the user postern runs as)", path))
	}
	return ok(check, path+" read, valid, mode "+fmt.Sprintf("%04o", mode.Perm()))
}
