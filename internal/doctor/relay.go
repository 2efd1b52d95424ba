package doctor

import (
	"fmt"
	"strings"

	"github.com/postern/postern/mailout"
)

// RelayFacts is how outgoing mail leaves: through the relay (Probe, or
// URLErr when relay_url cannot be used), else into the Maildir.
type RelayFacts struct {
	// Maildir is set when relay_url is empty: mail goes there.
	Maildir string
	URLErr  error
	Probe   mailout.RelayProbe
}

// relayURLForm is the relay_url to suggest.
const relayURLForm = `relay_url = "smtp://USER:PASSWORD@RELAY-HOST:587?starttls=required" (POSTERN_RELAY_URL)`

// CheckRelay checks that the relay answers EHLO, encrypts the
// connection (STARTTLS or smtps) unless it is on loopback, and takes the
// configured credentials (AUTH), all without sending mail.
func CheckRelay(f RelayFacts) []Result {
	switch {
	case f.Maildir != "":
		return []Result{warn("relay", "no relay_url: outgoing mail is written to the Maildir "+f.Maildir+", not sent", relayURLForm)}
	case f.URLErr != nil:
		return []Result{fix("relay", "relay_url cannot be used: "+f.URLErr.Error(), relayURLForm)}
	}
	p := f.Probe
	if p.Stage == "connect" {
		return []Result{fix("relay", fmt.Sprintf("cannot connect to %s: %v", p.Addr, p.Err),
			"check the host and port of relay_url, and that this machine may connect out to them")}
	}
	out := []Result{ok("relay", p.Addr+" answered")}
	if p.Stage == "EHLO" {
		return []Result{fix("relay", fmt.Sprintf("%s did not answer the greeting and EHLO: %v", p.Addr, p.Err), "check that relay_url names an SMTP server (port 25, 587, or 465 with smtps://)")}
	}
	if p.Stage == "TLS" {
		return append(out, fix("relay-tls", "TLS with the relay failed: "+p.Err.Error(),
			`for a private relay, relay_ca_file = "PATH-OF-ITS-CA.pem"; else renew the relay's certificate (its name must be `+p.Host+`)`))
	}
	out = append(out, relayTLS(p))
	return append(out, relayAuth(p))
}

// relayTLS is the TLS verdict of a probe that got past EHLO.
func relayTLS(p mailout.RelayProbe) Result {
	switch {
	case p.Implicit:
		return ok("relay-tls", "implicit TLS (smtps), certificate verified")
	case p.TLS:
		return ok("relay-tls", "STARTTLS offered and used, certificate verified")
	case p.Loopback:
		return ok("relay-tls", "no TLS: the relay is on this machine")
	case p.StartTLSMode == "no":
		return warn("relay-tls", "relay_url has starttls=no: mail to the relay crosses the network unencrypted", "remove starttls=no from relay_url (or use ?starttls=required)")
	}
	return warn("relay-tls", "the relay does not offer STARTTLS: mail to it crosses the network unencrypted",
		"use a relay that offers STARTTLS, or smtps://RELAY-HOST:465, in relay_url")
}

// relayAuth is the AUTH verdict of a probe that got past TLS.
func relayAuth(p mailout.RelayProbe) Result {
	mechs := strings.Join(p.AuthMechanisms, " ")
	switch {
	case p.Stage == "AUTH":
		return fix("relay-auth", "authentication failed: "+p.Err.Error(), "set the relay's user name and password in relay_url (percent-encoded): "+relayURLForm)
	case p.Authenticated:
		return ok("relay-auth", "AUTH offered ("+mechs+"), the user name and password of relay_url accepted")
	case p.AuthOffered:
		return ok("relay-auth", "AUTH offered ("+mechs+"); relay_url has no user: the relay must accept mail from this machine without it")
	}
	return ok("relay-auth", "no AUTH offered and none configured: the relay must accept mail from this machine's address")
}
