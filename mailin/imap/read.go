package imap

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"

	"github.com/postern/postern/threads"
)

// pending is a message above the cursor, not fetched yet.
type pending struct {
	uid  imap.UID
	size int64
}

// read takes every message above the cursor, batch by batch, each batch
// committed (TakeIMAP) before the next is fetched, then flags the
// refused ones and moves or flags the stored ones (finish). A cursor
// under another UIDVALIDITY is the folder recreated: it is read again
// from its first UID.
func (s *session) read(ctx context.Context) error {
	key := s.m.Key()
	cur, err := s.r.store.IMAPCursor(ctx, key)
	if err != nil {
		return err
	}
	last := cur.LastUID
	if cur.UIDValidity != s.uidValidity {
		if cur.UIDValidity != 0 {
			s.log.Info("mailbox UIDVALIDITY changed: reading it again, stored messages are recognised by Message-ID")
		}
		// Record it at once, so that an empty folder is not "changed"
		// at every pass.
		if _, err := s.r.store.TakeIMAP(ctx, key, s.uidValidity, nil); err != nil {
			return err
		}
		last = 0
	}
	list, err := s.above(imap.UID(last + 1))
	if err != nil {
		return err
	}
	// Finish after taking, and once a session (what a crash left).
	needFinish := len(list) > 0 || !s.finished
	for len(list) > 0 {
		var batch []pending
		batch, list = nextBatch(list, s.r.cfg.BatchBytes)
		top, err := s.take(ctx, key, batch)
		if err != nil {
			return err
		}
		last = max(last, uint32(top))
	}
	if last == 0 || !needFinish {
		return nil
	}
	if err := s.finish(imap.UID(last)); err != nil {
		return err
	}
	s.finished = true
	return nil
}

// above lists the messages with a UID from on, with their sizes.
func (s *session) above(from imap.UID) ([]pending, error) {
	set := imap.UIDSet{imap.UIDRange{Start: from, Stop: 0}}
	msgs, err := s.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	var out []pending
	for _, m := range msgs {
		// "n:*" holds the last message even when its UID is below n.
		if m.UID >= from {
			out = append(out, pending{uid: m.UID, size: m.RFC822Size})
		}
	}
	slices.SortFunc(out, func(a, b pending) int { return int(a.uid) - int(b.uid) })
	return out, nil
}

// nextBatch splits off the first messages of list: up to batchMessages
// of them, as many as fit in maxBytes, at least one.
func nextBatch(list []pending, maxBytes int64) (batch, rest []pending) {
	var n int
	var size int64
	for n < len(list) && n < batchMessages {
		if n > 0 && size+list[n].size > maxBytes {
			break
		}
		size += list[n].size
		n++
	}
	return list[:n], list[n:]
}

// take fetches batch (but a message over the size limit), has the store
// take it with the cursor, and flags what it refused. It returns the
// highest UID of batch.
func (s *session) take(ctx context.Context, key string, batch []pending) (imap.UID, error) {
	release, err := s.charge(ctx, batch)
	if err != nil {
		return 0, err
	}
	defer release()
	raws, err := s.fetch(batch)
	if err != nil {
		return 0, err
	}
	msgs := make([]threads.IMAPMessage, len(batch))
	var refused []imap.UID
	for i, p := range batch {
		msgs[i] = threads.IMAPMessage{UID: uint32(p.uid), Env: threads.Envelope{Source: threads.SourceIMAP}}
		raw := raws[p.uid]
		env, ok := envelopeOf(raw, s.r.cfg.Domain)
		var reason string
		switch {
		case p.size > s.r.cfg.MaxMessage:
			reason = "over the size limit"
		case raw == nil:
			reason = "the server did not return it"
		case !ok:
			reason = "no recipient of the forum's domain in Delivered-To, X-Original-To, To or Cc"
		default:
			msgs[i].Env, msgs[i].Raw = env, raw
			continue
		}
		s.log.Warn("message refused: "+reason, "uid", p.uid, "bytes", p.size)
		msgs[i].Refused = &threads.IMAPRefusal{Mailbox: s.m.Label(), MessageID: messageID(raw), Size: p.size, Reason: reason}
		refused = append(refused, p.uid)
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.r.cfg.CommitTimeout)
	defer cancel()
	res, err := s.r.store.TakeIMAP(tctx, key, s.uidValidity, msgs)
	if err != nil {
		return 0, err
	}
	for i, t := range res {
		if t.Stored {
			s.log.Info("message accepted", "uid", batch[i].uid, "inbound_id", t.InboundID, "duplicate", t.Duplicate, "bytes", batch[i].size)
		}
	}
	if len(refused) > 0 {
		if err := s.c.Store(imap.UIDSetNum(refused...), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
			Flags: []imap.Flag{failedKeyword}}, nil).Close(); err != nil {
			return 0, fmt.Errorf("flag refused messages: %w", err)
		}
	}
	return batch[len(batch)-1].uid, nil
}

// charge takes the bytes of batch to be fetched from the memory budget,
// waiting for them, and returns the function giving them back.
func (s *session) charge(ctx context.Context, batch []pending) (release func(), err error) {
	mem := s.r.cfg.Memory
	if mem == nil {
		return func() {}, nil
	}
	var n int64
	for _, p := range batch {
		if p.size <= s.r.cfg.MaxMessage {
			n += p.size
		}
	}
	n = min(n, s.r.cfg.MemoryBudget)
	if err := mem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("memory budget: %w", err)
	}
	return func() { mem.Release(n) }, nil
}

// fetch returns the raw messages of batch by UID (BODY.PEEK[]: no \Seen
// before they are stored), skipping those over the size limit.
func (s *session) fetch(batch []pending) (map[imap.UID][]byte, error) {
	var set imap.UIDSet
	for _, p := range batch {
		if p.size <= s.r.cfg.MaxMessage {
			set.AddNum(p.uid)
		}
	}
	out := make(map[imap.UID][]byte, len(batch))
	if len(set) == 0 {
		return out, nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := s.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch messages: %w", err)
	}
	for _, m := range msgs {
		if b := m.FindBodySection(section); b != nil {
			out[m.UID] = b
		}
	}
	return out, nil
}

// finish moves every message up to last that was not refused to the
// done folder, or flags those not \Seen yet: those the store has taken,
// this session or before a crash.
func (s *session) finish(last imap.UID) error {
	crit := &imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: 1, Stop: last}}}, NotFlag: []imap.Flag{failedKeyword, imap.FlagDeleted}}
	if s.m.Done == "" {
		crit.NotFlag = append(crit.NotFlag, imap.FlagSeen)
	}
	data, err := s.c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return fmt.Errorf("find stored messages: %w", err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return nil
	}
	set := imap.UIDSetNum(uids...)
	if s.m.Done == "" {
		err = s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	} else {
		err = s.move(set)
	}
	if err != nil {
		return fmt.Errorf("move stored messages: %w", err)
	}
	s.log.Debug("stored messages finished", "count", len(uids), "moved", s.m.Done != "")
	return nil
}

// move moves set to the done folder, creating the folder when the server
// says it is missing (TRYCREATE).
func (s *session) move(set imap.UIDSet) error {
	err := s.moveOnce(set)
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeTryCreate {
		return err
	}
	if err := s.c.Create(s.m.Done, nil).Wait(); err != nil {
		return fmt.Errorf("create the done folder: %w", err)
	}
	s.log.Info("done folder created")
	return s.moveOnce(set)
}

// moveOnce is UID MOVE where the server has it; otherwise UID COPY, and
// only once the copy succeeded UID STORE \Deleted and UID EXPUNGE
// (EXPUNGE without UIDPLUS). imapclient's own fallback sends the three
// at once, so a failed copy would still delete.
func (s *session) moveOnce(set imap.UIDSet) error {
	caps := s.c.Caps()
	if caps.Has(imap.CapMove) || caps.Has(imap.CapIMAP4rev2) {
		_, err := s.c.Move(set, s.m.Done).Wait()
		return err
	}
	if _, err := s.c.Copy(set, s.m.Done).Wait(); err != nil {
		return err
	}
	err := s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	if err != nil {
		return err
	}
	if caps.Has(imap.CapUIDPlus) {
		return s.c.UIDExpunge(set).Close()
	}
	return s.c.Expunge().Close()
}
