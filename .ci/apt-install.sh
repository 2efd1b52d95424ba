#!/usr/bin/env bash
# apt-install.sh WHAT PACKAGE... installs Debian packages for the ensure-*
# scripts: as root with apt-get, retrying once after `apt-get update`;
# otherwise it says which packages to install and fails. WHAT names the
# calling script in its messages. Needs no network but Debian's mirrors.
set -euo pipefail

what=$1
shift
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "$what: install the Debian packages: sudo apt-get install -y $*" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "$what: installing $* with apt-get" >&2
if ! apt-get install -y --no-install-recommends "$@"; then
	echo "$what: install failed; running apt-get update and retrying" >&2
	apt-get update
	apt-get install -y --no-install-recommends "$@"
fi
