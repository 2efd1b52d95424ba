#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, pg_ctl, postgres) are
# installed: the tests start private clusters with them (package
# internal/pgcluster). Installs Debian's "postgresql" package when they are
# missing and we are root; needs no network but Debian's package mirrors.
set -euo pipefail

have_postgres() {
	local f
	for f in /usr/lib/postgresql/*/bin/initdb; do
		[ -x "$f" ] && return 0
	done
	return 1
}

if have_postgres; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-postgres: PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin." >&2
	echo "ensure-postgres: install the Debian package 'postgresql' (sudo apt-get install -y postgresql)." >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
install() {
	apt-get install -y --no-install-recommends postgresql
}
echo "ensure-postgres: installing postgresql with apt-get" >&2
if ! install; then
	echo "ensure-postgres: install failed; running apt-get update and retrying" >&2
	apt-get update
	install
fi
if ! have_postgres; then
	echo "ensure-postgres: postgresql installed but no /usr/lib/postgresql/*/bin/initdb found" >&2
	exit 1
fi
