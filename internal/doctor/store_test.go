package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
)

// TestDatabase: the real PostgreSQL of the tests, migrated, empty and
// unreachable; the check changes nothing (an empty database stays
// empty).
func TestDatabase(t *testing.T) {
	t.Parallel()
	migrated := threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL)
	empty := threadstest.URL(t)
	for _, tc := range []struct {
		name, url string
		want      []Status
		in        string
	}{
		{"migrated", migrated, []Status{OK, OK}, "current"},
		{"empty", empty, []Status{OK, Fix}, "postern migrate"},
		{"unreachable", "postgres://doctor:hunter2@127.0.0.1:1/postern", []Status{Fix}, "cannot connect to the database"},
		{"not set", "", []Status{Fix}, "database_url is not set"},
	} {
		cfg := config.Default()
		cfg.Store.DatabaseURL = tc.url
		rs := checkStore(context.Background(), cfg)
		text := ""
		for i, r := range rs {
			text += r.Detail + " " + r.Fix + "\n"
			if i < len(tc.want) && r.Status != tc.want[i] {
				t.Errorf("%s: %s is %s (%s), want %s", tc.name, r.Check, r.Status, r.Detail, tc.want[i])
			}
		}
		if len(rs) != len(tc.want) || !strings.Contains(text, tc.in) {
			t.Errorf("%s: %+v, want %d results with %q", tc.name, rs, len(tc.want), tc.in)
		}
		if strings.Contains(text, "hunter2") || strings.Contains(text, "doctor:") {
			t.Errorf("%s: the URL is shown: %s", tc.name, text)
		}
	}
	pool := threadstest.Pool(t, empty)
	var tables int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("the empty database has %d tables after the check (%v)", tables, err)
	}
}

// TestCheckSchema: each state of the migrations.
func TestCheckSchema(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    threads.Schema
		err  error
		want Status
		in   string
	}{
		{threads.Schema{Version: 18, Latest: 18, RiverApplied: 6, RiverAll: 6}, nil, OK, "version 18, current"},
		{threads.Schema{Version: 14, Latest: 18, RiverApplied: 6, RiverAll: 6}, nil, Fix, "schema version 14, this binary needs 18"},
		{threads.Schema{Version: 18, Latest: 18, RiverApplied: 4, RiverAll: 6}, nil, Fix, "River"},
		{threads.Schema{Version: 19, Latest: 18, RiverApplied: 6, RiverAll: 6}, nil, Warn, "newer than this binary"},
		{threads.Schema{}, errors.New("permission denied"), Fix, "permission denied"},
	} {
		r := CheckSchema(tc.s, tc.err)
		if r.Status != tc.want || !strings.Contains(r.Detail, tc.in) {
			t.Errorf("%+v: %s %q, want %s with %q", tc.s, r.Status, r.Detail, tc.want, tc.in)
		}
	}
}

// TestKeys: the secret and the sealing keys, right, missing, short,
// malformed and too open.
func TestKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := write("secret", strings.Repeat("s", 48), 0o600)
	open := write("open", strings.Repeat("s", 48), 0o644)
	groupRead := write("group-read", strings.Repeat("s", 48), 0o640)
	short := write("short", "tiny", 0o600)
	sealing := write("sealing", "# rotated\n2 "+strings.Repeat("A", 43)+"=\n", 0o600)
	badSealing := write("bad-sealing", "2 notbase64\n", 0o600)
	for _, tc := range []struct {
		name, secret, sealing string
		want                  map[string]Status
		in                    string
	}{
		{"secret only", secret, "", map[string]Status{"secret": OK, "sealing-keys": OK}, "key 1, derived from the secret"},
		{"with sealing keys", secret, sealing, map[string]Status{"secret": OK, "sealing-keys": OK}, "key 2 seals new data"},
		{"not set", "", "", map[string]Status{"secret": Fix}, "head -c 48 /dev/urandom"},
		{"missing file", filepath.Join(dir, "nope"), "", map[string]Status{"secret": Fix}, "read secret file"},
		{"short", short, "", map[string]Status{"secret": Fix}, "need at least 32"},
		{"readable by others", open, "", map[string]Status{"secret": Warn, "sealing-keys": OK}, "chmod 640 " + open},
		{"readable by its group", groupRead, "", map[string]Status{"secret": OK, "sealing-keys": OK}, "mode 0640"},
		{"bad sealing keys", secret, badSealing, map[string]Status{"sealing-keys": Fix}, "line 1"},
	} {
		cfg := config.Default()
		cfg.Store.SecretFile, cfg.Store.SealingKeysFile = tc.secret, tc.sealing
		rs := CheckKeys(keyFacts(cfg))
		got, text := results(rs), ""
		for _, r := range rs {
			text += r.Detail + " " + r.Fix + "\n"
		}
		for check, st := range tc.want {
			if got[check].Status != st {
				t.Errorf("%s: %s is %s (%s), want %s", tc.name, check, got[check].Status, got[check].Detail, st)
			}
		}
		if len(rs) != len(tc.want) || !strings.Contains(text, tc.in) {
			t.Errorf("%s: %+v, want %v with %q", tc.name, rs, tc.want, tc.in)
		}
		if strings.Contains(text, strings.Repeat("s", 32)) {
			t.Errorf("%s: the secret is shown", tc.name)
		}
	}
}

// TestBaseURL: https, http, http on loopback, not a URL.
func TestBaseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want Status
		in   string
	}{
		{"https://forum.example.org", OK, "RFC 8058"},
		{"http://forum.example.org", Warn, `base_url = "https://forum.example.org"`},
		{"http://localhost:8080", OK, "loopback"},
		{"http://127.0.0.1:8080", OK, "loopback"},
		{"http://[::1]:8080", OK, "loopback"},
		{"forum.example.org", Fix, "not an absolute http(s) URL"},
		{"ftp://forum.example.org", Fix, "not an absolute http(s) URL"},
	} {
		r := CheckBaseURL(tc.url)
		if r.Status != tc.want || !strings.Contains(r.Detail+" "+r.Fix, tc.in) {
			t.Errorf("%s: %s %q %q, want %s with %q", tc.url, r.Status, r.Detail, r.Fix, tc.want, tc.in)
		}
	}
}

// TestReportOutput: one line per check with its fix; JSON with every
// check, the statuses as words and fix_needed.
func TestReportOutput(t *testing.T) {
	t.Parallel()
	rep := Report{Domain: "forum.test", Results: []Result{
		ok("mx", "MX 10 mx.forum.test"), warn("base-url", "http", "base_url = x"), fix("spf", "none", `publish forum.test. IN TXT "v=spf1 mx -all"`)}}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	want := "OK   mx           MX 10 mx.forum.test\n" +
		"WARN base-url     http -> fix: base_url = x\n" +
		"FIX  spf          none -> fix: publish forum.test. IN TXT \"v=spf1 mx -all\"\n"
	if text.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), want)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Domain string `json:"domain"`
		Checks []struct {
			Check, Status, Detail, Fix string
		} `json:"checks"`
		FixNeeded bool `json:"fix_needed"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, js.String())
	}
	if got.Domain != "forum.test" || len(got.Checks) != 3 || got.Checks[2].Status != "FIX" || got.Checks[0].Fix != "" || !got.FixNeeded {
		t.Errorf("json: %+v", got)
	}
	if (Report{Results: rep.Results[:2]}).NeedsFix() {
		t.Error("OK and WARN need a fix")
	}
}
