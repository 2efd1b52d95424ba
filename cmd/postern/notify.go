package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/postern/postern/internal/app"
)

// readyPingTimeout bounds the database check made before serve reports
// itself ready.
const readyPingTimeout = 10 * time.Second

// notifyReady tells the service manager (systemd's Type=notify, through
// the datagram socket named by $NOTIFY_SOCKET; deploy/postern.service)
// that serve is ready: called once a's listeners are bound, it first
// checks that the database answers, and fails if it does not, so that
// systemd sees the start fail rather than a server that cannot store
// mail. Without $NOTIFY_SOCKET it only makes that check. When ctx ends
// first (a stop during the start) it returns nil. A failure to
// reach the socket is logged, not fatal.
func notifyReady(ctx context.Context, a *app.App, log *slog.Logger) error {
	pctx, cancel := context.WithTimeout(ctx, readyPingTimeout)
	defer cancel()
	if err := a.Pool().Ping(pctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: not a failure
		}
		return fmt.Errorf("database does not answer after start: %w", err)
	}
	sdNotify(log, daemon.SdNotifyReady+"\nSTATUS=serving")
	return nil
}

// sdNotify sends state to the service manager, if there is one
// ($NOTIFY_SOCKET set), logging a failure.
func sdNotify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("cannot notify the service manager (NOTIFY_SOCKET)", "err", err)
	}
}
