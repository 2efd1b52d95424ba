package main

import "time"

// The targets of issue 16, one predicate each beside the text the report
// shows; the scenarios use only these, so the text and the check agree.
const (
	goalIntake     = "≥ 0.5 of discard and DATA p99 < 50 ms"
	goalE2E        = "p99 < 100 ms"
	goalBig        = "adds < 2× its size"
	goalConcurrent = "< 400 MB"
	goalGrowth     = "≥ 0.95"
	goalProcessing = "≥ 1000 msg/s or ≥ 0.25 of PG commit"
)

// intakeMet: intake at 10 connections with processing running reaches
// half the same run's discard ceiling and its DATA p99 is under 50 ms.
func intakeMet(rate, discard float64, p99 time.Duration) bool {
	return discard > 0 && rate >= 0.5*discard && p99 < 50*time.Millisecond
}

// e2eMet: every message was delivered and the end-to-end p99 is under
// 100 ms.
func e2eMet(p99 time.Duration, missing int) bool {
	return missing == 0 && p99 < 100*time.Millisecond
}

// bigMet: one large message of size bytes adds less than twice its size
// to the peak RSS.
func bigMet(added, size int64) bool { return added < 2*size }

// concurrentMet: the concurrent large messages were all accepted and the
// peak RSS stayed under 400 MB.
func concurrentMet(peak int64, ok, sent int) bool { return peak < 400e6 && ok == sent }

// growthMet: a rate with the table grown is at least 0.95 of the rate
// with it empty.
func growthMet(ratio float64) bool { return ratio >= 0.95 }

// processingMet: processing's capacity (scenario 2's backlog drain, from
// 250 to post visible) reaches 1000 msg/s, or a quarter of the same run's
// PostgreSQL single-row commit rate at the worker count; either suffices.
func processingMet(rate, pgCommit float64) bool {
	return rate >= 1000 || (pgCommit > 0 && rate >= 0.25*pgCommit)
}
