#!/bin/sh
# Checks that two revisions make the same clustering decisions, for changes
# that should only make the synthesizer faster: builds newswire at each,
# runs `newswire eval --assignments` on the bundled UCI and ECB+ replays
# (file order) and compares the assignments line for line, then compares
# the scores of the four orders of each (--orders; the throughput line
# differs and is left out).
# Usage: scripts/samedecisions.sh BASE [HEAD]   (HEAD: the work tree)
set -eu
base="$1"
head="${2:-}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build() { # rev dir
	if [ -n "$1" ]; then
		mkdir -p "$tmp/$2"
		git archive "$1" | tar -x -C "$tmp/$2"
		(cd "$tmp/$2" && go build -o "$tmp/$2.bin" ./cmd/newswire)
	else
		go build -o "$tmp/$2.bin" ./cmd/newswire
	fi
}
build "$base" base
build "$head" head
status=0
for f in uci-news-2014-03 ecbplus-dev; do
	for side in base head; do
		"$tmp/$side.bin" eval "testdata/replay/$f.jsonl" --assignments "$tmp/$side-$f.jsonl" >/dev/null
		sort "$tmp/$side-$f.jsonl" >"$tmp/$side-$f.sorted"
		"$tmp/$side.bin" eval "testdata/replay/$f.jsonl" --orders | grep -v '^throughput' >"$tmp/$side-$f.orders"
	done
	if cmp -s "$tmp/base-$f.sorted" "$tmp/head-$f.sorted" && cmp -s "$tmp/base-$f.orders" "$tmp/head-$f.orders"; then
		echo "$f: same assignments ($(wc -l <"$tmp/head-$f.sorted") items) and the same scores in all four orders"
	else
		echo "$f: DIFFERENT"
		diff "$tmp/base-$f.orders" "$tmp/head-$f.orders" || true
		status=1
	fi
done
exit $status
