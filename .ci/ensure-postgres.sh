#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, pg_ctl, postgres) are
# installed: the tests start private clusters with them (package
# internal/pgcluster). Installs Debian's "postgresql" package when they are
# missing (apt-install.sh).
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
echo "ensure-postgres: PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin" >&2
bash "$(dirname "$0")/apt-install.sh" ensure-postgres postgresql
if ! have_postgres; then
	echo "ensure-postgres: postgresql installed but no /usr/lib/postgresql/*/bin/initdb found" >&2
	exit 1
fi
