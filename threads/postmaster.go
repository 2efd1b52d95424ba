package threads

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Reasons recorded on inbound mail for the postmaster (RcptPostmaster).
const (
	ReasonPostmasterKept      = "for the postmaster: kept for operators (no postmaster address configured)"
	ReasonPostmasterForwarded = "for the postmaster: forwarded to the postmaster address"
)

// ForwardArgs is the River job forwarding inbound message InboundID, sent
// to postmaster@ or abuse@, to Config.PostmasterAddress.
type ForwardArgs struct {
	InboundID int64 `json:"inbound_id"`
}

// Kind implements river.JobArgs.
func (ForwardArgs) Kind() string { return "postern.forward" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ForwardArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueNotify} }

// forPostmaster reports whether any recipient is the postmaster (the
// server accepts no other recipient beside it in one transaction).
func (s *Store) forPostmaster(rcpt []string) bool {
	for _, a := range rcpt {
		if r, err := s.addrs.Parse(a); err == nil && r.Kind == RcptPostmaster {
			return true
		}
	}
	return false
}

// keepForPostmaster is the outcome of mail to the postmaster: no post, no
// person, no reply to the sender; a forwarding job when an address is
// configured (enqueued in tx, with the outcome).
func (s *Store) keepForPostmaster(ctx context.Context, tx pgx.Tx, in *inboundRow) (outcome, error) {
	if s.cfg.PostmasterAddress == "" {
		return outcome{state: StateProcessed, reason: ReasonPostmasterKept}, nil
	}
	if s.jobs == nil {
		return outcome{}, errors.New("store has no job inserter (threads.Options.Jobs)")
	}
	if _, err := s.jobs.InsertTx(ctx, tx, ForwardArgs{InboundID: in.id}, nil); err != nil {
		return outcome{}, fmt.Errorf("enqueue postmaster forward: %w", err)
	}
	return outcome{state: StateProcessed, reason: ReasonPostmasterForwarded}, nil
}

// Forward is an inbound message to hand to the postmaster address.
type Forward struct {
	InboundID int64
	To        string // Config.PostmasterAddress
	From      string // the forum's notify address (envelope and From)
	Raw       []byte // the message as received
}

// ErrNothingToForward is returned by LoadForward when the message is gone
// (purged, undecryptable) or no postmaster address is configured.
var ErrNothingToForward = errors.New("nothing to forward")

// LoadForward opens inbound message id for forwarding to the postmaster
// address.
func (s *Store) LoadForward(ctx context.Context, id int64) (Forward, error) {
	if s.cfg.PostmasterAddress == "" {
		return Forward{}, ErrNothingToForward
	}
	var keyID int
	var sealed, dedup []byte
	err := s.pool.QueryRow(ctx, `SELECT key_id, sealed, dedup_key FROM inbound WHERE id = $1`, id).Scan(&keyID, &sealed, &dedup)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && sealed == nil {
		return Forward{}, fmt.Errorf("inbound %d: %w", id, ErrNothingToForward)
	}
	if err != nil {
		return Forward{}, fmt.Errorf("load inbound %d: %w", id, err)
	}
	plain, err := s.keys.OpenBytes(keyID, sealed, dedup)
	if err != nil {
		return Forward{}, fmt.Errorf("inbound %d: %w (%v)", id, ErrNothingToForward, err)
	}
	_, raw := openInbound(plain)
	return Forward{InboundID: id, To: s.cfg.PostmasterAddress, From: s.addrs.Notify(), Raw: raw}, nil
}
