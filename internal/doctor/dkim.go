package doctor

import (
	"fmt"
	"strings"
)

// DKIMFacts is the configured key and what DNS publishes for it.
type DKIMFacts struct {
	// KeyFile is dkim_key_file ("" when outgoing mail is not signed);
	// KeyErr why it cannot be used.
	KeyFile string
	KeyErr  error
	// Name is SELECTOR._domainkey.DOMAIN; Want the record for the key,
	// as mailout.DKIMSigner.DNSTXT gives it (quoted strings).
	Name, Want string
	TXT        Answer[string]
}

// CheckDKIM checks that the selector's TXT record holds the public half
// of the configured private key (RFC 6376 section 3.6.1).
func CheckDKIM(domain, selector string, f DKIMFacts) Result {
	if f.KeyFile == "" {
		return warn("dkim", "dkim_key_file is not set: Postern does not sign outgoing mail (fine only if the relay signs it for "+domain+")",
			fmt.Sprintf("postern dkim keygen --domain %s --dkim-selector %s --out /etc/postern/dkim.pem, publish the record it prints, set dkim_key_file = \"/etc/postern/dkim.pem\"", domain, selector))
	}
	if f.KeyErr != nil {
		return fix("dkim", "dkim_key_file cannot be used: "+f.KeyErr.Error(),
			"point dkim_key_file at an unencrypted PEM RSA (2048-bit) or Ed25519 key; postern dkim keygen makes one")
	}
	publish := fmt.Sprintf("publish %s IN TXT %s", fqdn(f.Name), f.Want)
	if f.TXT.Failed() {
		return lookupFailed("dkim", "TXT", f.Name, f.TXT.Err)
	}
	var recs []map[string]string
	for _, t := range f.TXT.Records {
		if tags := dkimTags(t); tags["v"] == "DKIM1" || tags["p"] != "" {
			recs = append(recs, tags)
		}
	}
	switch len(recs) {
	case 0:
		return fix("dkim", "no DKIM key record at "+f.Name+": receivers cannot verify the signatures", publish)
	case 1:
	default:
		return fix("dkim", fmt.Sprintf("%d DKIM records at %s: receivers may pick either", len(recs), f.Name), "keep only one: "+publish)
	}
	want := dkimTags(unquote(f.Want))
	got := recs[0]
	kind := got["k"]
	if kind == "" {
		kind = "rsa"
	}
	switch {
	case got["p"] == "":
		return fix("dkim", "the record at "+f.Name+" has an empty p=: the key is revoked", publish)
	case got["p"] != want["p"] || kind != want["k"]:
		return fix("dkim", "the key published at "+f.Name+" is not the public half of dkim_key_file ("+f.KeyFile+"): signatures fail", "replace it: "+publish)
	}
	return ok("dkim", fmt.Sprintf("%s publishes the public half of %s (k=%s)", f.Name, f.KeyFile, kind))
}

// dkimTags parses a DKIM (or DMARC) tag list "v=DKIM1; k=rsa; p=..."
// (RFC 6376 section 3.2): whitespace inside p= is removed.
func dkimTags(rec string) map[string]string {
	tags := map[string]string{}
	for _, part := range strings.Split(rec, ";") {
		k, v, found := strings.Cut(part, "=")
		if !found {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if k == "p" {
			v = strings.Join(strings.Fields(v), "")
		}
		tags[k] = v
	}
	return tags
}

// unquote joins the quoted character-strings of a zone-file TXT value
// ("a" "b") into the one string a resolver returns ("ab").
func unquote(txt string) string {
	txt = strings.TrimSpace(txt)
	if !strings.HasPrefix(txt, `"`) {
		return txt
	}
	var b strings.Builder
	for i, part := range strings.Split(txt, `"`) {
		if i%2 == 1 { // inside quotes
			b.WriteString(part)
		}
	}
	return b.String()
}
