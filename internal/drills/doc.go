// Package drills holds the reliability drills of docs/RELIABILITY.md. Each
// drill runs the real postern binary (built once, `postern serve`), a
// PostgreSQL of its own and a relay on loopback, sends a load of questions
// over SMTP as an MTA would (retrying 4xx and dropped connections, never
// a 5xx), injects its faults (SIGKILL, SIGTERM and restart, the database
// stopped) and then counts, once every queue is drained: messages sent,
// 250s received, stored, processed, notifications expected and sent,
// duplicates (a notification Message-ID the relay received twice), lost
// (a 250 whose message is not stored) and panics in the logs.
//
// The package has no production code: the drills are its tests. `make
// test` runs them at a small size; `make drills` (POSTERN_DRILLS=full) at
// the sizes of issue 14, and POSTERN_DRILLS_REPORT=FILE writes the table
// into FILE (docs/RELIABILITY.md) between its markers.
package drills
