#!/usr/bin/env bash
# Makes sure Debian's Dovecot IMAP server is at /usr/sbin/dovecot: the
# tests of package mailin/imap start a private one on a loopback port
# (TestDovecot; under CI=true a missing binary fails it, otherwise it is
# skipped). Installs Debian's "dovecot-imapd" when it is missing
# (apt-install.sh); its system service is not used (in a container
# policy-rc.d keeps it from starting).
set -euo pipefail

if [ -x /usr/sbin/dovecot ]; then
	exit 0
fi
echo "ensure-dovecot: /usr/sbin/dovecot not found" >&2
bash "$(dirname "$0")/apt-install.sh" ensure-dovecot dovecot-imapd
if [ ! -x /usr/sbin/dovecot ]; then
	echo "ensure-dovecot: dovecot-imapd installed but /usr/sbin/dovecot not found" >&2
	exit 1
fi
