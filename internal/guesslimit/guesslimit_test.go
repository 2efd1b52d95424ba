package guesslimit

import (
	"fmt"
	"testing"
	"time"
)

// TestLimiter: a key is blocked after max failures until its window
// ends; other keys, and the empty key, are not.
func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(3, time.Hour)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if l.Blocked("a") {
			t.Fatalf("blocked after %d failures", i)
		}
		if blocked := l.Fail("a"); blocked != (i == 2) {
			t.Fatalf("failure %d: blocked %v", i+1, blocked)
		}
	}
	if !l.Blocked("a") || l.Blocked("b") {
		t.Error("a not blocked after 3 failures, or b blocked")
	}
	for range 10 {
		l.Fail("")
	}
	if l.Blocked("") {
		t.Error("the empty key is blocked")
	}
	now = now.Add(time.Hour)
	if l.Blocked("a") {
		t.Error("a still blocked after its window")
	}
	if New(0, time.Hour).Fail("x") {
		t.Error("max 0 blocks")
	}
}

// TestPrune: the map stays bounded.
func TestPrune(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(2, time.Minute)
	l.now = func() time.Time { return now }
	for i := range maxKeys + 10 {
		if i == maxKeys/2 {
			now = now.Add(time.Minute)
		}
		l.Fail(fmt.Sprint(i))
	}
	if n := len(l.keys); n > maxKeys {
		t.Errorf("%d keys kept, want at most %d", n, maxKeys)
	}
}
