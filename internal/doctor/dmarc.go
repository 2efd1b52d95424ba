package doctor

import (
	"fmt"
	"strings"
)

// CheckDMARC checks the DMARC policy at _dmarc.DOMAIN (RFC 7489 section
// 6.1): one record, v=DMARC1 first, a valid p=. The record's report
// addresses (rua=, ruf=) are never shown: they may be a person's.
func CheckDMARC(domain string, txt Answer[string]) Result {
	name := "_dmarc." + domain
	publish := fmt.Sprintf(`publish %s IN TXT "v=DMARC1; p=none" (p=quarantine once DKIM and SPF pass)`, fqdn(name))
	if txt.Failed() {
		return lookupFailed("dmarc", "TXT", name, txt.Err)
	}
	var recs []string
	for _, t := range txt.Records {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(t)), "v=dmarc1") {
			recs = append(recs, t)
		}
	}
	switch len(recs) {
	case 0:
		return fix("dmarc", "no DMARC record at "+name+": large mailbox providers refuse or junk bulk mail without one", publish)
	case 1:
	default:
		return fix("dmarc", fmt.Sprintf("%d DMARC records at %s: receivers ignore them all (RFC 7489 section 6.6.3)", len(recs), name), "keep only one: "+publish)
	}
	tags := dkimTags(recs[0])
	p := strings.ToLower(tags["p"])
	switch p {
	case "none":
		return ok("dmarc", name+": p=none (monitoring only; p=quarantine once DKIM and SPF pass)")
	case "quarantine", "reject":
	default:
		return fix("dmarc", fmt.Sprintf("the record at %s has no valid p= (want none, quarantine or reject)", name), publish)
	}
	detail := name + ": p=" + p
	for _, k := range []string{"sp", "adkim", "aspf", "pct"} {
		if v := tags[k]; v != "" {
			detail += "; " + k + "=" + v
		}
	}
	return ok("dmarc", detail)
}
