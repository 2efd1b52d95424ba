package app

import (
	"context"
	"time"
)

// Heartbeats: every instance records every heartbeatInterval that it is
// alive (threads.Store.Heartbeat, under its River client id); a job still
// running under an instance silent for orphanAfter was cut off by a crash
// (SIGKILL, power), and a live instance makes it available again
// (RescueOrphans) rather than waiting River's hour for it.
const (
	heartbeatInterval = 5 * time.Second
	orphanAfter       = 15 * time.Second
)

// heartbeatLoop beats and rescues orphaned jobs until done closes. It
// rescues only once its own heartbeats have all succeeded for orphanAfter
// (since it started, or since its last failure): after a database outage
// every instance's heartbeat is old, and a live one must have had the time
// to beat again before it can look dead.
func (a *App) heartbeatLoop() {
	defer a.wg.Done()
	id := a.river.ID()
	lastFailure := time.Now() // "since it started"
	t := time.NewTicker(heartbeatInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), heartbeatInterval)
		if err := a.store.Heartbeat(ctx, id); err != nil {
			lastFailure = time.Now()
			a.log.Debug("heartbeat failed", "err", err)
		} else if time.Since(lastFailure) >= orphanAfter {
			n, err := a.store.RescueOrphans(ctx, orphanAfter)
			switch {
			case err != nil:
				a.log.Warn("rescue of orphaned jobs failed", "err", err)
			case n > 0:
				a.log.Warn("jobs of a stopped instance made available again", "jobs", n)
			}
		}
		cancel()
		select {
		case <-a.done:
			return
		case <-t.C:
		}
	}
}
