// Package systemtest holds Postern's whole-system tests: each starts a
// complete server with app.New (internal/app) on a fresh database of a
// real PostgreSQL (internal/threadstest), its SMTP, LMTP and HTTP
// listeners on loopback ports, and an SMTP sink (internal/smtptest) as the
// outgoing relay, then drives it over real sockets as mail clients,
// sending servers and browsers would.
//
// They cover the core loop (ask, answer, comment, notifications), the
// forum by mail (votes, best answers, moderation, commands, help),
// privacy (no address in logs, pages, dumps or another's mail; forget
// and export), who may post as whom (DKIM/SPF evidence, trusted networks
// and Authentication-Results, forgeries), every way to stop mail, the
// links and security headers of every page a notification leads to,
// notification fan-out, mail as real clients send it, postmaster mail,
// processing retries, deep nesting, the memory budget for large
// messages, and README's Postfix recipe: a private Debian Postfix in
// front of the LMTP listener (TestPostfixToLMTP). A few run the postern command (built from cmd/postern for
// the test) against the running forum, as an operator would.
//
// A check that something did not happen waits until the queues are
// drained (WaitDrained), never a fixed time.
//
// The non-test file (harness.go) is the harness the tests share: Start
// (the app), StartSink (the relay), SendMail, WaitProcessed, WaitDrained,
// Member, Count, PgDump. The tests of cmd/postern that run a command
// against a running forum use it too.
package systemtest
