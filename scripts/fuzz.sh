#!/bin/sh
# Runs every Go fuzz target in the module for a bounded time each.
# Usage: scripts/fuzz.sh [duration]   (default 10s)
set -eu
t="${1:-10s}"
found=0
for dir in $(go list -f '{{.Dir}}' ./...); do
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		found=1
		echo "fuzz $target in $dir for $t"
		(cd "$dir" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" .)
	done
done
[ "$found" = 1 ] || echo "no fuzz targets"
