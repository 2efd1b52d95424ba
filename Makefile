# Postern. `make test` is what CI runs (through .ci/run).

GO ?= go
# Race detection on every package: the tests are mostly database-bound, so
# -race costs little run time; `make test RACE=` turns it off.
RACE ?= -race
TESTFLAGS ?=

.PHONY: all build dev test vet ensure-postgres ensure-chromium ensure-dovecot ensure-postfix bench drills fuzz fmt-check screenshots

all: build

build:
	$(GO) build -o bin/postern ./cmd/postern

# Build, then exec: postern replaces make's shell, so make's SIGTERM and the
# terminal's Ctrl-C reach it directly; it stops its PostgreSQL and exits 0.
# Settings: POSTERN_* variables, or DEVFLAGS='--http-addr 127.0.0.1:8081'.
DEVFLAGS ?=
DEVBIN ?= bin/postern
dev:
	$(GO) build -o $(DEVBIN) ./cmd/postern && exec $(DEVBIN) dev $(DEVFLAGS)

ensure-postgres:
	bash .ci/ensure-postgres.sh

# The browser tests and `make screenshots` drive Debian's Chromium
# (/usr/bin/chromium) headless; this installs it when missing (as root).
ensure-chromium:
	bash .ci/ensure-chromium.sh

vet:
	$(GO) vet ./...

# mailin/imap's TestDovecot reads a private Dovecot (Debian's
# dovecot-imapd, /usr/sbin/dovecot); this installs it when missing (as root).
ensure-dovecot:
	bash .ci/ensure-dovecot.sh

# internal/systemtest's TestPostfixToLMTP runs a private Postfix (Debian's
# postfix, /usr/sbin/postfix) in front of Postern's LMTP, as README's
# "Deploying" recipe; this installs it when missing (as root). Its system
# service is not used.
ensure-postfix:
	bash .ci/ensure-postfix.sh

test: ensure-postgres ensure-chromium ensure-dovecot ensure-postfix vet
	$(GO) test $(RACE) -count=1 -timeout 15m $(TESTFLAGS) ./...
	# The patched go-smtp (internal/go-smtp, a module of its own) with its tests.
	cd internal/go-smtp && $(GO) test -count=1 ./...

# `make bench` runs the system benchmark (private PostgreSQL, `postern serve`,
# SMTP load; writes docs/BENCHMARKS.md; under 15 minutes) and then the Go
# micro-benchmarks. BENCHFLAGS=-quick tries it in a minute or two.
# Scenario 9 runs Postfix's smtp-source and smtp-sink (ensure-postfix).
BENCHFLAGS ?=
bench: ensure-postfix
	$(GO) run ./cmd/postern-bench $(BENCHFLAGS)
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# `make drills` runs the reliability drills (internal/drills: the real
# binary, PostgreSQL and the relay on loopback, SIGKILL, SIGTERM and the
# database stopped under load) at full size, prints their table and writes
# it into docs/RELIABILITY.md. `make test` runs them at a small size.
drills: ensure-postgres
	POSTERN_DRILLS=full POSTERN_DRILLS_REPORT=$(CURDIR)/docs/RELIABILITY.md $(GO) test -count=1 -timeout 60m -v -run '^TestDrill' ./internal/drills

# `make fuzz` runs every fuzz target (FUZZ_TARGETS, package:function; a
# test in internal/codesize checks that it lists all of them) for
# FUZZTIME each (scripts/fuzz-one.sh: a run Go's coordinator ends with a
# bare "context deadline exceeded" is run once more); CI runs
# `make fuzz FUZZTIME=30s`.
FUZZTIME ?= 10m
FUZZ_TARGETS = ./mailin:FuzzSMTPSession ./mailin/parse:FuzzParse ./mailin/mbox:FuzzReader \
	./mailin/trim:FuzzText ./mailin/trim:FuzzHTML ./mailin/trim:FuzzAttrEnd \
	./threads/pipeline:FuzzPipeline ./threads/token:FuzzVerify
fuzz: ensure-postgres
	@set -e; for t in $(FUZZ_TARGETS); do \
		bash scripts/fuzz-one.sh $(GO) $${t%%:*} $${t##*:} $(FUZZTIME); \
	done

# `make screenshots` writes the home and a question page, at desktop and
# phone widths, to docs/screenshots/ (a forum with sample posts, a private
# PostgreSQL, headless Chromium).
screenshots: ensure-postgres ensure-chromium
	POSTERN_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestScreenshots$$' ./internal/browsertest

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
