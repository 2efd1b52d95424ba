// Package app assembles and runs one Postern server from a configuration:
// the store (threads, on PostgreSQL), the River job queue and its workers
// (processing, notifications, forwards, maintenance), the outgoing sender
// (mailout), the SMTP/LMTP receiver (mailin) and the web server (web).
// It holds no logic of its own: it only wires the packages that do.
//
// New builds every part and checks the schema, Start works the queue and
// binds the listeners, Close stops them in order. `postern serve` and
// `postern dev` (cmd/postern) run the server through it, and so do the
// whole-system tests (internal/systemtest). OpenStore is the one way the
// store is opened, by the server and by every admin and read command.
package app
