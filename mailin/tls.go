package mailin

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// Certs is the SMTP listeners' certificate and key, read from PEM files.
// Reload reads them again (on SIGHUP): connections that start after it
// get the new certificate, and a failed reload keeps the old one. It is
// safe for concurrent use.
type Certs struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCerts reads the certificate chain and key files.
func LoadCerts(certFile, keyFile string) (*Certs, error) {
	c := &Certs{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again; on an error the previous certificate
// stays in use.
func (c *Certs) Reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cur.Store(&cert)
	return nil
}

// config is the listeners' TLS configuration: the current certificate at
// each handshake, TLS min at least.
func (c *Certs) config(min uint16) *tls.Config {
	return &tls.Config{MinVersion: min, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }}
}

// TLSVersion is the crypto/tls version of a --tls-min-version value
// ("1.3"; anything else is 1.2, which Validate insists on).
func TLSVersion(v string) uint16 {
	if v == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}
