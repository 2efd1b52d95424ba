package pipeline

import (
	"context"
	"strings"

	"github.com/postern/postern/mailin/classify"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// recordBounce counts bounce m against the person it concerns: the person
// named by the VERP token when there is one, otherwise the person whose
// address is the DSN's final recipient. Bounces never become posts.
func (p processor) recordBounce(ctx context.Context, tx *threads.Tx, m *parse.Message, verp *threads.TokenRef) (threads.Outcome, error) {
	dsn, _ := classify.ParseDSN(m)
	hard, status := false, ""
	if dsn != nil {
		hard = dsn.Hard()
		for _, r := range dsn.Recipients {
			if status == "" || strings.HasPrefix(r.Status, "5") {
				status = r.Status
			}
		}
	}
	var personID, notifID int64
	if verp != nil && verp.Present {
		personID, notifID = verp.Person, verp.Subject
	} else if dsn != nil {
		for _, r := range dsn.Recipients {
			addr := r.FinalRecipient
			if i := strings.LastIndexByte(addr, ';'); i >= 0 {
				addr = addr[i+1:]
			}
			id, err := tx.PersonByAddress(ctx, strings.TrimSpace(addr))
			if err != nil {
				return threads.Outcome{}, err
			}
			if personID = id; id != 0 {
				break
			}
		}
	}
	if personID == 0 {
		return ignored(templates.InboundBounceUnknown), nil
	}
	if dsn == nil && verp != nil {
		// Mail to a VERP address that is not a DSN: an auto-reply or a
		// human writing to the envelope sender. Never a post.
		return ignored(templates.InboundBounceNotDSN), nil
	}
	if err := tx.RecordBounce(ctx, personID, notifID, status, hard); err != nil {
		return threads.Outcome{}, err
	}
	return ignored(templates.InboundBounce(hard, status, personID)), nil
}
