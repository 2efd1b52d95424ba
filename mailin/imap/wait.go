package imap

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// wait returns when there may be new mail: with IDLE, when the server
// reports a new message count or after IdleRefresh (the IDLE is then
// ended, which proves the connection alive, and the folder read again);
// without it, after the URL's poll interval and a NOOP (which makes the
// server report new messages). It returns an error when the connection
// fails or ctx ends.
func (s *session) wait(ctx context.Context) error {
	if !s.canIdle() {
		t := time.NewTimer(s.m.Poll)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.c.Closed():
			return errors.New("connection closed by the server")
		case <-t.C:
		}
		if err := s.c.Noop().Wait(); err != nil {
			return fmt.Errorf("noop: %w", err)
		}
		return nil
	}
	idle, err := s.c.Idle()
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	t := time.NewTimer(s.r.cfg.IdleRefresh)
	defer t.Stop()
	var closed bool
	select {
	case <-ctx.Done():
	case <-s.c.Closed():
		closed = true
	case <-s.newMail:
	case <-t.C:
		s.log.Debug("idle refreshed")
	}
	if err := idle.Close(); err != nil {
		return fmt.Errorf("end idle: %w", err)
	}
	if err := idle.Wait(); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	if closed {
		return errors.New("connection closed by the server")
	}
	return ctx.Err()
}
