package pipeline

import (
	"context"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// Reasons recorded on inbound mail for the postmaster (threads.RcptPostmaster).
const (
	ReasonPostmasterKept      = templates.InboundPostmasterKept
	ReasonPostmasterForwarded = templates.InboundPostmasterForwarded
)

// keepForPostmaster is the outcome of mail to the postmaster: no post, no
// person, no reply to the sender; a forwarding job when an address is
// configured (enqueued in tx, with the outcome).
func (p processor) keepForPostmaster(ctx context.Context, tx *threads.Tx) (threads.Outcome, error) {
	if p.cfg.PostmasterAddress == "" {
		return threads.Outcome{State: threads.StateProcessed, Reason: ReasonPostmasterKept}, nil
	}
	if err := tx.EnqueueForward(ctx); err != nil {
		return threads.Outcome{}, err
	}
	return threads.Outcome{State: threads.StateProcessed, Reason: ReasonPostmasterForwarded}, nil
}
