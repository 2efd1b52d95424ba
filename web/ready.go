package web

import (
	"context"
	"net/http"
	"time"
)

// ReadyQueueAge is how long a job of the processing or notification
// queue may wait, due, before /readyz says the queues are stuck.
const ReadyQueueAge = 10 * time.Minute

// readyTimeout bounds the checks of one /readyz request.
const readyTimeout = 5 * time.Second

// ready answers /readyz: 200 "ready" when the database answers, its
// schema is current and no queue is stuck (threads.Store.Ready), else 503
// with the reason in plain text (for monitors; it names no message or
// address). A change between ready and not ready is logged once, with the
// reason, not every probe.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	err := h.store.Ready(ctx, ReadyQueueAge)
	h.logReadiness(err)
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// logReadiness logs a change of readiness.
func (h *Handler) logReadiness(err error) {
	was := h.notReady.Swap(err != nil)
	switch {
	case err != nil && !was:
		h.log.Warn("not ready", "reason", err.Error())
	case err == nil && was:
		h.log.Info("ready again")
	}
}
