#!/usr/bin/env bash
# Makes sure Debian's headless-capable Chromium is at /usr/bin/chromium: the
# browser tests (package internal/browsertest) and `make screenshots` drive
# it with chromedp. Installs Debian's "chromium" package when it is missing
# (apt-install.sh); nothing else is downloaded.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
	exit 0
fi
echo "ensure-chromium: /usr/bin/chromium not found" >&2
bash "$(dirname "$0")/apt-install.sh" ensure-chromium chromium fonts-dejavu-core
if [ ! -x /usr/bin/chromium ]; then
	echo "ensure-chromium: chromium installed but /usr/bin/chromium not found" >&2
	exit 1
fi
