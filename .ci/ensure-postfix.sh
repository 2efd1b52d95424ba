#!/usr/bin/env bash
# Makes sure Debian's Postfix is at /usr/sbin/postfix: the whole-system
# test TestPostfixToLMTP (internal/systemtest) runs a private Postfix on a
# loopback port in front of Postern's LMTP listener (under CI=true a
# missing binary fails it, otherwise it is skipped). Installs Debian's
# "postfix" when it is missing (apt-install.sh, DEBIAN_FRONTEND
# noninteractive: debconf's defaults, "Internet Site"); its system service
# is not used (in a container policy-rc.d keeps it from starting) and the
# test never reads /etc/postfix.
set -euo pipefail

if [ -x /usr/sbin/postfix ]; then
	exit 0
fi
echo "ensure-postfix: /usr/sbin/postfix not found" >&2
bash "$(dirname "$0")/apt-install.sh" ensure-postfix postfix
if [ ! -x /usr/sbin/postfix ]; then
	echo "ensure-postfix: postfix installed but /usr/sbin/postfix not found" >&2
	exit 1
fi
