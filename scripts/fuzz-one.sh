#!/usr/bin/env bash
# fuzz-one.sh GO PKG FUNC FUZZTIME: fuzz one target (make fuzz).
#
# Go 1.26's fuzzing coordinator can end a run that found nothing with
# "context deadline exceeded" when -fuzztime expires while a worker is
# mid-input (go.dev/issue/75804, fixed in Go 1.27). Such a run, with no
# failing input written and no other failure, is run once more; any other
# failure, or the same on the second run, fails.
set -uo pipefail
go=$1 pkg=$2 fn=$3 time=$4
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for try in 1 2; do
	echo "== $fn in $pkg for $time"
	if "$go" test -run '^$' -fuzz "^$fn\$" -fuzztime "$time" "$pkg" 2>&1 | tee "$log"; then
		exit 0
	fi
	if grep -q 'Failing input written\|panic:\|_test\.go:[0-9]' "$log" || ! grep -q '^    context deadline exceeded$' "$log"; then
		exit 1
	fi
	if [ "$try" = 1 ]; then
		echo "== $fn: the fuzzer stopped with \"context deadline exceeded\" and no failing input (go.dev/issue/75804): once more"
	fi
done
exit 1
