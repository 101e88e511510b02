#!/usr/bin/env bash
# fuzz.sh [PACKAGES]: run every Fuzz target of PACKAGES (default ./...) for
# FUZZTIME each (default 10m).
set -euo pipefail

fuzztime=${FUZZTIME:-10m}
go=${GO:-go}
found=0
for pkg in $("$go" list "${@:-./...}"); do
	for target in $("$go" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		found=1
		echo "== $pkg $target ($fuzztime)"
		"$go" test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
	done
done
[ "$found" = 1 ] || { echo "fuzz.sh: no Fuzz targets found" >&2; exit 1; }
