package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// DatabaseError is an error opening or connecting to the database at
// POSTERN_DATABASE_URL. Its text says what failed and the class of the
// cause (refused, timed out, authentication failed, host name not
// found...) and never any part of the URL: pgx's errors name the user,
// database, host and port, and a password with an unencoded @, # or /
// spills into those fields, so none of them is shown. Unwrap still gives
// the cause, for errors.Is and errors.As; never print it.
type DatabaseError struct {
	msg string
	err error
}

func (e *DatabaseError) Error() string { return e.msg }
func (e *DatabaseError) Unwrap() error { return e.err }

// databaseURLError is the error for a URL pgx cannot parse (its
// message quotes the URL, with only a well-formed password hidden).
func databaseURLError(err error) error {
	return &DatabaseError{
		msg: "the database URL (POSTERN_DATABASE_URL) is not a valid PostgreSQL URL (percent-encode @ # / : ? in the user name or password)",
		err: err,
	}
}

// ConnectError is the error for a failed connection or first query to
// the database: "cannot connect to the database (POSTERN_DATABASE_URL): "
// and connectCause(err). nil stays nil.
func ConnectError(err error) error {
	if err == nil {
		return nil
	}
	return &DatabaseError{msg: "cannot connect to the database (POSTERN_DATABASE_URL): " + connectCause(err), err: err}
}

// connectCause names the class of err without its text.
func connectCause(err error) string {
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &pgErr):
		return serverCause(pgErr.Code)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "host name not found"
	case errors.As(err, &dnsErr):
		return "host name lookup failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ENOENT):
		return "no server socket at that path"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset by the server"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return "the server's TLS certificate was not accepted"
	}
	return "connection failed"
}

// serverCause names a PostgreSQL refusal by its SQLSTATE (the server's
// message names the user or database).
func serverCause(code string) string {
	switch code {
	case "28P01", "28000":
		return "authentication failed (user name or password)"
	case "3D000":
		return "database does not exist"
	case "53300":
		return "too many connections"
	case "57P03":
		return "the server is starting up or shutting down"
	case "42501":
		return "permission denied"
	}
	return "the server refused (SQLSTATE " + code + ")"
}
