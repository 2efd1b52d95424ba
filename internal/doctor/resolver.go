package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Resolver is the DNS postern doctor asks. *net.Resolver satisfies it
// (and so does blitiri.com.ar/go/spf's DNSResolver, with which the SPF
// record is evaluated); tests give a fake.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// LookupTimeout bounds every DNS query of a run (Options.LookupTimeout
// overrides it): long enough for a slow authoritative server, short
// enough that a machine without network gets its report in seconds.
const LookupTimeout = 5 * time.Second

// timed is a Resolver whose every query ends after d.
type timed struct {
	r Resolver
	d time.Duration
}

func (t timed) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.r.LookupMX(ctx, name)
}

func (t timed) LookupTXT(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.r.LookupTXT(ctx, name)
}

func (t timed) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.r.LookupIPAddr(ctx, host)
}

func (t timed) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.r.LookupAddr(ctx, addr)
}

// Answer is the answer to one DNS query: its records, or why there are
// none (Err; NotFound tells an absent record from a failed lookup).
type Answer[T any] struct {
	Records []T
	Err     error
}

// answer makes an Answer of a lookup's results.
func answer[T any](recs []T, err error) Answer[T] { return Answer[T]{Records: recs, Err: err} }

// NotFound reports whether the name or the record type does not exist
// (NXDOMAIN, or no records of the type): the record is to be published.
// A lookup that failed otherwise (timeout, SERVFAIL, no network) is not
// NotFound.
func (a Answer[T]) NotFound() bool {
	var de *net.DNSError
	if a.Err == nil {
		return len(a.Records) == 0
	}
	return errors.As(a.Err, &de) && de.IsNotFound
}

// Failed reports whether the lookup failed for another reason than an
// absent record.
func (a Answer[T]) Failed() bool { return a.Err != nil && !a.NotFound() }

// lookupFailed is the result of a check whose lookup of name failed.
func lookupFailed(check, what, name string, err error) Result {
	return fix(check, fmt.Sprintf("%s lookup of %s failed: %s", what, name, dnsCause(err)),
		"make DNS answer: check this machine's resolver (/etc/resolv.conf) and the name servers of the domain, then run postern doctor again")
}

// dnsCause names why a lookup failed, in a few words.
func dnsCause(err error) string {
	var de *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &de) && de.IsTimeout:
		return "timed out"
	case errors.As(err, &de) && de.Err != "":
		return de.Err
	}
	return strings.TrimSpace(err.Error())
}

// fqdn is name with one trailing dot, as a zone file writes it.
func fqdn(name string) string { return strings.TrimSuffix(name, ".") + "." }
