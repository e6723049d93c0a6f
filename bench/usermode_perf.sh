#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# User-mode performance (issue 3): two processes on loopback, each with its own
# user-mode softhca device, running Debian's perftest under `softhca run`:
#   ib_write_bw 64 KiB (goal >= 1.5 GB/s), ib_write_lat 8 B (goal: typical <= 10 us),
#   ib_send_bw 64 B (goal >= 0.5 M messages/s).
# Usage: bench/usermode_perf.sh [BUILD_DIR]   (default: build)
# Prints one line per figure. A benchmark, not a test: it fails only if a run fails.
set -euo pipefail
build=${1:-build}
softhca=$build/bin/softhca
[[ -x $softhca ]] || { echo "usermode_perf: $softhca missing (build first)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/softhca-perf.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
port=$((20000 + (RANDOM % 3000) * 3))   # fresh TCP ports: a previous run may hold its own

# run NAME PERFTEST_ARGS...: server and client, the client's output kept in $tmp/NAME.
run() {
	local name=$1
	shift
	port=$((port + 1))
	timeout 60 "$softhca" run --addr 127.0.0.221 -- "$@" -p "$port" > "$tmp/$name.srv" 2>&1 &
	local srv=$!
	sleep 1.5   # the server creates its device before it listens
	if ! timeout 60 "$softhca" run --addr 127.0.0.222 -- "$@" -p "$port" 127.0.0.221 \
		> "$tmp/$name" 2>&1; then
		echo "usermode_perf: $name client failed:" >&2
		tail -5 "$tmp/$name" >&2
	fi
	wait "$srv" || echo "usermode_perf: $name server exited with status $?" >&2
}

run write_bw ib_write_bw -d sh0 -x 0 -s 65536 -D 5
run write_lat ib_write_lat -d sh0 -x 0 -s 8 -n 20000
run send_bw ib_send_bw -d sh0 -x 0 -s 64 -D 5

awk '/^ *65536 /{printf "ib_write_bw 64 KiB: %.0f MB/s average (goal 1500)\n", $4}' "$tmp/write_bw"
awk '/^ *8 /{printf "ib_write_lat 8 B: typical %s us, min %s us, 99%% %s us (goal typical <= 10)\n", $5, $3, $8}' "$tmp/write_lat"
awk '/^ *64 /{printf "ib_send_bw 64 B: %.3f M msg/s (goal 0.5)\n", $5}' "$tmp/send_bw"
