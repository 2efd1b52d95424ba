// Package guesslimit counts failed guesses (tokens that do not verify:
// reply addresses over SMTP, confirm, unsubscribe and sign-in links over
// HTTP) per client network, in memory, so that one network cannot try
// tokens without end. Tokens carry an 80-bit MAC, so guessing one is
// hopeless anyway; the limit keeps the attempt from costing the forum
// anything either.
//
// A network that failed Max times in its current Window is blocked until
// that window ends (a fixed window per network, started by its first
// failure). The counts are per process: with N instances a network may
// fail N×Max times. Keys are the callers' (an IPv4 address or an IPv6
// /64); the empty key (no client, as over LMTP) is never blocked.
package guesslimit

import (
	"sync"
	"time"
)

// maxKeys bounds the networks remembered; past it, ended windows are
// dropped, and if none has ended the oldest is.
const maxKeys = 100_000

// Limiter counts failures per key. Its zero value is not usable: use New.
// It is safe for concurrent use.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*entry
}

type entry struct {
	start time.Time
	n     int
}

// New returns a limiter blocking a key after max failures in window (max
// < 1: never).
func New(max int, window time.Duration) *Limiter {
	return &Limiter{max: max, window: window, now: time.Now, keys: map[string]*entry{}}
}

// Blocked reports whether key has failed the maximum in its window.
func (l *Limiter) Blocked(key string) bool {
	if l == nil || key == "" || l.max < 1 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.current(key)
	return e != nil && e.n >= l.max
}

// Fail counts a failure of key; it reports whether key is blocked now.
func (l *Limiter) Fail(key string) bool {
	if l == nil || key == "" || l.max < 1 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.current(key)
	if e == nil {
		if len(l.keys) >= maxKeys {
			l.prune()
		}
		e = &entry{start: l.now()}
		l.keys[key] = e
	}
	e.n++
	return e.n >= l.max
}

// current returns key's entry if its window has not ended (dropping an
// ended one).
func (l *Limiter) current(key string) *entry {
	e := l.keys[key]
	if e != nil && l.now().Sub(e.start) >= l.window {
		delete(l.keys, key)
		return nil
	}
	return e
}

// prune drops the ended windows, or the oldest when none has ended.
func (l *Limiter) prune() {
	now := l.now()
	var oldest string
	var at time.Time
	for k, e := range l.keys {
		if now.Sub(e.start) >= l.window {
			delete(l.keys, k)
			continue
		}
		if oldest == "" || e.start.Before(at) {
			oldest, at = k, e.start
		}
	}
	if len(l.keys) >= maxKeys {
		delete(l.keys, oldest)
	}
}
