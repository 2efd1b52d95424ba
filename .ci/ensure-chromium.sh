#!/usr/bin/env bash
# Makes sure Debian's headless-capable Chromium is at /usr/bin/chromium: the
# browser tests (package internal/browsertest) and `make screenshots` drive
# it with chromedp. Installs Debian's "chromium" package when it is missing
# and we are root; needs no network but Debian's package mirrors. Nothing
# else is downloaded.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-chromium: /usr/bin/chromium not found." >&2
	echo "ensure-chromium: install the Debian package 'chromium' (sudo apt-get install -y chromium)." >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
install() {
	apt-get install -y --no-install-recommends chromium fonts-dejavu-core
}
echo "ensure-chromium: installing chromium with apt-get" >&2
if ! install; then
	echo "ensure-chromium: install failed; running apt-get update and retrying" >&2
	apt-get update
	install
fi
if [ ! -x /usr/bin/chromium ]; then
	echo "ensure-chromium: chromium installed but /usr/bin/chromium not found" >&2
	exit 1
fi
