package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
)

// OnOff is a switch written "on" or "off" (true/false and 1/0 are taken
// too).
type OnOff bool

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *OnOff) UnmarshalText(b []byte) error {
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "on", "true", "1":
		*o = true
	case "off", "false", "0":
		*o = false
	default:
		return errors.New("want on or off")
	}
	return nil
}

// String returns "on" or "off".
func (o OnOff) String() string {
	if o {
		return "on"
	}
	return "off"
}

// Bytes is a size in bytes, written as an integer or with a unit
// (10MiB, 1GiB, 512KiB; SI units such as 10MB are powers of 1000).
type Bytes int64

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *Bytes) UnmarshalText(t []byte) error {
	s := strings.TrimSpace(string(t))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return errors.New("want a size of at least 0")
		}
		*b = Bytes(n)
		return nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n > 1<<62 {
		return errors.New("want a size in bytes, e.g. 1048576 or 25MiB")
	}
	*b = Bytes(n)
	return nil
}

// String writes b with the largest binary unit that divides it exactly
// (25MiB), else as an integer: what it prints parses back to b.
func (b Bytes) String() string {
	for _, u := range []struct {
		n    int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if b != 0 && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// List is a comma-separated list; items are trimmed, empty ones dropped.
type List []string

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *List) UnmarshalText(b []byte) error {
	var out List
	for _, f := range strings.Split(string(b), ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	*l = out
	return nil
}

// String joins the list with commas.
func (l List) String() string { return strings.Join(l, ",") }

// Networks is a comma-separated list of CIDR prefixes; a bare address is
// a prefix of its full length. Prefixes are stored masked.
type Networks []netip.Prefix

// UnmarshalText implements encoding.TextUnmarshaler.
func (n *Networks) UnmarshalText(b []byte) error {
	var out Networks
	for _, f := range strings.Split(string(b), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return fmt.Errorf("want comma-separated CIDRs such as 10.0.0.0/8 (%v)", err)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return fmt.Errorf("want comma-separated CIDRs such as 10.0.0.0/8 (%v)", err)
		}
		out = append(out, p.Masked())
	}
	*n = out
	return nil
}

// String joins the prefixes with commas.
func (n Networks) String() string {
	s := make([]string, len(n))
	for i, p := range n {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
