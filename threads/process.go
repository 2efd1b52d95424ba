package threads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Inbound states.
const (
	StateAccepted  = "accepted"
	StateProcessed = "processed"
	StateIgnored   = "ignored"
	StateFailed    = "failed"
)

// FailInbound marks the accepted message id failed after attempts failed
// processing attempts, with reason, shown by `postern inbound list`: the
// caller makes sure it holds no address. A message no longer accepted is
// left alone.
func (s *Store) FailInbound(ctx context.Context, id int64, attempts int, reason string) error {
	tag, uerr := s.pool.Exec(ctx, sqlFailInbound, id, reason)
	if uerr != nil {
		return fmt.Errorf("mark inbound %d failed: %w", id, uerr)
	}
	if tag.RowsAffected() == 1 {
		s.log.Warn("inbound message failed after its last processing attempt", "inbound_id", id, "attempts", attempts)
	}
	return nil
}

// DatabaseUnreachable reports whether err says the database could not be
// reached (no connection, a connection lost or timed out, the server
// shutting down or refusing connections) rather than that it answered a
// statement with an error.
func DatabaseUnreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: the server is
		// shutting down or starting; 53300: too many connections.
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300"
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET)
}

// inboundRow is the inbound message a Tx locked (see Inbound).
type inboundRow struct {
	id        int64
	raw       []byte
	mailFrom  string
	rcpt      []string
	state     string
	remoteIP  string
	peerIP    string // the front MTA over LMTP, else ""
	source    string
	webPerson int64 // web_member_posts: the signed-in member who posted it
	purged    bool
}
