// Package imapurl reads the mailbox URLs of POSTERN_IMAP_URL: which IMAP
// mailbox Postern reads, how it connects and logs in, and what it does
// with a message once stored. It is pure (no network, no files), so that
// internal/config can validate the setting with it.
//
// A URL is
//
//	imaps://USER:PASS@HOST[:PORT][/MAILBOX][?OPTIONS]   implicit TLS (port 993)
//	imap://USER:PASS@HOST[:PORT][/MAILBOX][?OPTIONS]    STARTTLS (port 143)
//
// USER and PASS are percent-encoded (forum%40example.org). MAILBOX
// defaults to INBOX. OPTIONS are
//
//	starttls=required   imap:// only: never fall back to a plain connection
//	password_file=PATH  the password is the first line of PATH (then the URL holds none)
//	password_env=VAR    the password is the environment variable VAR (then the URL holds none)
//	poll=DURATION       how often a server without IDLE is asked (default 30s, at least 1s)
//	done=FOLDER         move each stored message there; empty or absent: only flag it \Seen
//
// Over imap:// to any host but a loopback address, STARTTLS is required
// whatever the URL says: a password never travels in plain text beyond
// the machine.
//
// Contract: no error of this package contains the password (nor the
// user name, which is often an address).
package imapurl

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// DefaultPoll is how often a mailbox on a server without IDLE is read.
const DefaultPoll = 30 * time.Second

// Security is how the connection is encrypted.
type Security int

// The kinds of connection.
const (
	// TLS is implicit TLS (imaps://).
	TLS Security = iota
	// StartTLSRequired is STARTTLS, the connection refused without it.
	StartTLSRequired
	// StartTLSOptional is STARTTLS when the server offers it, plain text
	// otherwise (imap:// to a loopback address only).
	StartTLSOptional
)

// Mailbox is one parsed mailbox URL.
type Mailbox struct {
	User         string
	Password     string // "" when PasswordFile or PasswordEnv is set
	PasswordFile string
	PasswordEnv  string // the name of the variable holding the password
	Host         string // host name or IP, without brackets
	Port         string
	Mailbox      string // the folder read, e.g. INBOX
	Security     Security
	Poll         time.Duration
	Done         string // folder stored messages move to; "": flag \Seen only
}

// Addr is the server's host:port.
func (m Mailbox) Addr() string { return net.JoinHostPort(m.Host, m.Port) }

// Label names the mailbox in log lines: host, port and folder, never the
// user or the password.
func (m Mailbox) Label() string { return m.Addr() + "/" + m.Mailbox }

// Key identifies the mailbox in the database (its cursor): a hash of the
// user, server and folder, so that the stored key holds no address.
func (m Mailbox) Key() string {
	h := sha256.Sum256([]byte("imap\x00" + strings.ToLower(m.User) + "\x00" + strings.ToLower(m.Host) + "\x00" + m.Port + "\x00" + m.Mailbox))
	return hex.EncodeToString(h[:16])
}

// Loopback reports whether Host is a loopback address (or localhost).
func (m Mailbox) Loopback() bool { return Loopback(m.Host) }

// Loopback reports whether host is "localhost" or a loopback IP.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseList parses a space-separated list of mailbox URLs (the value of
// POSTERN_IMAP_URL); an empty list is none. Two URLs naming the same
// mailbox are an error.
func ParseList(s string) ([]Mailbox, error) {
	var out []Mailbox
	seen := map[string]bool{}
	for i, f := range strings.Fields(s) {
		m, err := Parse(f)
		if err != nil {
			return nil, fmt.Errorf("mailbox URL %d: %w", i+1, err)
		}
		if seen[m.Key()] {
			return nil, fmt.Errorf("mailbox URL %d: the same mailbox as an earlier one", i+1)
		}
		seen[m.Key()] = true
		out = append(out, m)
	}
	return out, nil
}

// Parse parses one mailbox URL (see the package comment).
func Parse(raw string) (Mailbox, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the URL, password included.
		return Mailbox{}, errors.New("not a URL (a password with reserved characters must be percent-encoded)")
	}
	var m Mailbox
	switch u.Scheme {
	case "imaps":
		m.Security, m.Port = TLS, "993"
	case "imap":
		m.Security, m.Port = StartTLSOptional, "143"
	default:
		return Mailbox{}, errors.New("must start with imaps:// or imap://")
	}
	if err := m.setServer(u); err != nil {
		return Mailbox{}, err
	}
	if err := m.setOptions(u); err != nil {
		return Mailbox{}, err
	}
	if m.Security == StartTLSOptional && !m.Loopback() {
		m.Security = StartTLSRequired
	}
	return m, nil
}

// setServer sets the user, password, host, port and folder from u.
func (m *Mailbox) setServer(u *url.URL) error {
	if u.Opaque != "" || u.Host == "" {
		return errors.New("names no server (want imaps://USER:PASS@HOST/MAILBOX)")
	}
	if u.User == nil || u.User.Username() == "" {
		return errors.New("names no user (want imaps://USER:PASS@HOST/MAILBOX)")
	}
	m.User = u.User.Username()
	m.Password, _ = u.User.Password()
	m.Host = u.Hostname()
	if m.Host == "" {
		return errors.New("names no server host")
	}
	if p := u.Port(); p != "" {
		m.Port = p
	}
	m.Mailbox = strings.Trim(u.Path, "/")
	if m.Mailbox == "" {
		m.Mailbox = "INBOX"
	}
	if u.Fragment != "" {
		return errors.New("has a fragment (#...): a password holding # must be percent-encoded (%23)")
	}
	return nil
}

// setOptions reads the query of u.
func (m *Mailbox) setOptions(u *url.URL) error {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return errors.New("options do not parse (want ?name=value&...)")
	}
	m.Poll = DefaultPoll
	for name, vals := range q {
		if len(vals) != 1 {
			return fmt.Errorf("option %s given %d times", name, len(vals))
		}
		v := vals[0]
		switch name {
		case "starttls":
			if v != "required" {
				return errors.New("starttls must be \"required\"")
			}
			if m.Security == TLS {
				return errors.New("starttls=required is for imap:// (imaps:// is TLS from the start)")
			}
			m.Security = StartTLSRequired
		case "password_file":
			if v == "" {
				return errors.New("password_file is empty")
			}
			m.PasswordFile = v
		case "password_env":
			if !envName(v) {
				return errors.New("password_env must name an environment variable (letters, digits, _)")
			}
			m.PasswordEnv = v
		case "poll":
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second {
				return errors.New("poll must be a duration of at least 1s, e.g. 30s")
			}
			m.Poll = d
		case "done":
			m.Done = strings.Trim(v, "/")
		default:
			return fmt.Errorf("unknown option %q (starttls, password_file, password_env, poll, done)", name)
		}
	}
	sources := 0
	for _, p := range []string{m.Password, m.PasswordFile, m.PasswordEnv} {
		if p != "" {
			sources++
		}
	}
	switch {
	case sources > 1:
		return errors.New("holds more than one of a password, password_file and password_env: give one")
	case sources == 0:
		return errors.New("holds no password (USER:PASS@, ?password_file=PATH or ?password_env=VAR)")
	case m.Done != "" && strings.EqualFold(m.Done, m.Mailbox):
		return errors.New("done names the mailbox read itself")
	}
	return nil
}

// envName reports whether v is a portable environment variable name.
func envName(v string) bool {
	if v == "" || (v[0] >= '0' && v[0] <= '9') {
		return false
	}
	for _, r := range v {
		if r != '_' && (r < '0' || r > '9') && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') {
			return false
		}
	}
	return true
}
