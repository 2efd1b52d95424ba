package auth

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net/mail"
	"strings"

	"github.com/emersion/go-message/textproto"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// OrgDomain returns the organizational domain of domain (RFC 7489
// section 3.2): the public suffix plus one label, using the Public
// Suffix List compiled into golang.org/x/net/publicsuffix (its ICANN and
// private sections; for a name that matches no rule the last label is
// taken as the suffix). The list is a snapshot from when the module was
// built, so a suffix added later is treated as an ordinary domain until
// the module is updated. A domain that is itself a public suffix is its
// own organizational domain. The input is lowercased and a trailing dot
// removed.
func OrgDomain(domain string) string {
	d := normDomain(domain)
	if d == "" {
		return ""
	}
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// normDomain lowercases d, removes a trailing dot and surrounding space,
// and turns an internationalized name into its A-label form, which is
// how it appears in d= and in DNS.
func normDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			if a, err := idna.Lookup.ToASCII(d); err == nil {
				return a
			}
			return d
		}
	}
	return d
}

// FromDomain returns the domain of the single address in raw's From
// field, lowercased (A-label form for an internationalized domain). raw
// is the message or just its header. It fails when there is no From
// field, more than one, or the field does not hold exactly one mailbox;
// DMARC treats such messages as having no usable author domain. The
// error never contains the address.
func FromDomain(raw []byte) (string, error) {
	h := readHeader(raw)
	froms := h.Values("From")
	switch len(froms) {
	case 0:
		return "", errors.New("auth: message has no From field")
	case 1:
	default:
		return "", errors.New("auth: message has more than one From field")
	}
	// Names in an unknown charset must not stop us reading the address.
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
	// The parser's error text may quote the field, so it is not wrapped.
	list, err := p.ParseList(froms[0])
	if err != nil {
		return "", errors.New("auth: From field is not a valid address list")
	}
	if len(list) != 1 {
		return "", errors.New("auth: From field does not hold exactly one mailbox")
	}
	addr := list[0].Address
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", errors.New("auth: From address has no domain")
	}
	d := normDomain(addr[at+1:])
	if d == "" {
		return "", errors.New("auth: From address has no domain")
	}
	return d, nil
}

// readHeader parses raw's header leniently: on a syntax error it keeps
// the fields read before it.
func readHeader(raw []byte) textproto.Header {
	h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	return h
}
