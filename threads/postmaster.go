package threads

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// ForwardArgs is the River job forwarding inbound message InboundID, sent
// to postmaster@ or abuse@, to Config.PostmasterAddress.
type ForwardArgs struct {
	InboundID int64 `json:"inbound_id"`
}

// Kind implements river.JobArgs.
func (ForwardArgs) Kind() string { return "postern.forward" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ForwardArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueNotify, MaxAttempts: SendMaxAttempts}
}

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

// EnqueueForward enqueues, in t, the forwarding of the locked inbound
// message to Config.PostmasterAddress (the caller checks one is set).
func (t *Tx) EnqueueForward(ctx context.Context) error {
	if t.s.jobs == nil {
		return errors.New("store has no job inserter (threads.Options.Jobs)")
	}
	if _, err := t.s.jobs.InsertTx(ctx, t.tx, ForwardArgs{InboundID: t.in.id}, nil); err != nil {
		return fmt.Errorf("enqueue postmaster forward: %w", err)
	}
	return nil
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
	var chunks *int
	var sealed, dedup []byte
	err := s.pool.QueryRow(ctx, sqlLoadSealedInbound, id).Scan(&keyID, &sealed, &dedup, &chunks)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && sealed == nil && chunks == nil {
		return Forward{}, fmt.Errorf("inbound %d: %w", id, ErrNothingToForward)
	}
	if err != nil {
		return Forward{}, fmt.Errorf("load inbound %d: %w", id, err)
	}
	var plain []byte
	if chunks != nil {
		plain, err = s.readChunks(ctx, s.pool, id, *chunks)
		if err != nil && !errors.Is(err, ErrSealedDamaged) && !errors.Is(err, ErrNoKey) {
			return Forward{}, fmt.Errorf("load inbound %d: %w", id, err)
		}
	} else {
		plain, err = s.keys.OpenBytes(keyID, sealed, dedup)
	}
	if err != nil {
		return Forward{}, fmt.Errorf("inbound %d: %w (%v)", id, ErrNothingToForward, err)
	}
	_, raw := openInbound(plain)
	return Forward{InboundID: id, To: s.cfg.PostmasterAddress, From: s.addrs.Notify(), Raw: raw}, nil
}
