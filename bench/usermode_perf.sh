#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# User-mode performance (issue 3): two processes on loopback, each with its own
# user-mode softhca device, running Debian's perftest under `softhca run`:
#   ib_write_bw 64 KiB (goal >= 1.5 GB/s), ib_write_lat 8 B (goal: typical <= 10 us),
#   ib_send_bw 64 B (goal >= 0.5 M messages/s).
# Usage: bench/usermode_perf.sh [BUILD_DIR]   (default: build)
# Prints one line per figure, first with the default progress thread, then with
# `softhca run --progress-signal`, and how the datagrams crossed the kernel (the
# devices' net_* counters). A benchmark, not a test: it fails only if a run fails.
# SOFTHCA_BENCH_NET=N puts the two devices on 127.N.0.221 and 127.N.0.222
# (default 0), so two checkouts can measure at once.
set -euo pipefail
build=${1:-build}
softhca=$build/bin/softhca
[[ -x $softhca ]] || { echo "usermode_perf: $softhca missing (build first)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/softhca-perf.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
port=$((20000 + (RANDOM % 3000) * 3))   # fresh TCP ports: a previous run may hold its own
net=${SOFTHCA_BENCH_NET:-0}
[[ $net =~ ^[0-9]+$ && $net -le 255 ]] || { echo "usermode_perf: SOFTHCA_BENCH_NET=$net: not 0..255" >&2; exit 1; }
srv_addr=127.$net.0.221
cli_addr=127.$net.0.222

# run NAME PERFTEST_ARGS...: server and client, the client's output kept in $tmp/NAME.
run() {
	local name=$1
	shift
	port=$((port + 1))
	timeout 60 "$softhca" run --addr "$srv_addr" "${opts[@]}" --stats "$tmp/$name.srv.stats" -- "$@" \
		-p "$port" > "$tmp/$name.srv" 2>&1 &
	local srv=$!
	sleep 1.5   # the server creates its device before it listens
	if ! timeout 60 "$softhca" run --addr "$cli_addr" "${opts[@]}" --stats "$tmp/$name.cli.stats" -- "$@" \
		-p "$port" "$srv_addr" > "$tmp/$name" 2>&1; then
		echo "usermode_perf: $name client failed:" >&2
		tail -5 "$tmp/$name" >&2
	fi
	wait "$srv" || echo "usermode_perf: $name server exited with status $?" >&2
}

opts=()
run write_bw ib_write_bw -d sh0 -x 0 -s 65536 -D 5
run write_lat ib_write_lat -d sh0 -x 0 -s 8 -n 20000
run send_bw ib_send_bw -d sh0 -x 0 -s 64 -D 5
# the same with signal-driven progress (softhca run --progress-signal)
opts=(--progress-signal)
run write_bw_sig ib_write_bw -d sh0 -x 0 -s 65536 -D 5
run write_lat_sig ib_write_lat -d sh0 -x 0 -s 8 -n 20000
run send_bw_sig ib_send_bw -d sh0 -x 0 -s 64 -D 5

awk '/^ *65536 /{printf "ib_write_bw 64 KiB: %.0f MB/s average (goal 1500)\n", $4}' "$tmp/write_bw"
awk '/^ *8 /{printf "ib_write_lat 8 B: typical %s us, min %s us, 99%% %s us (goal typical <= 10)\n", $5, $3, $8}' "$tmp/write_lat"
awk '/^ *64 /{printf "ib_send_bw 64 B: %.3f M msg/s (goal 0.5)\n", $5}' "$tmp/send_bw"
echo "with --progress-signal:"
awk '/^ *65536 /{printf "ib_write_bw 64 KiB: %.0f MB/s average (goal 1500)\n", $4}' "$tmp/write_bw_sig"
awk '/^ *8 /{printf "ib_write_lat 8 B: typical %s us, min %s us, 99%% %s us (goal typical <= 10)\n", $5, $3, $8}' "$tmp/write_lat_sig"
awk '/^ *64 /{printf "ib_send_bw 64 B: %.3f M msg/s (goal 0.5)\n", $5}' "$tmp/send_bw_sig"

# Datagrams per UDP_SEGMENT send and per system call, each way.
for name in write_bw write_lat send_bw write_bw_sig write_lat_sig send_bw_sig; do
	for side in cli srv; do
		awk -v what="$name $side" '{ v[$1] = $2 }
			END { if (v["net_tx_sends"] && v["net_tx_submits"] && v["net_rx_reads"])
				printf "  %-14s tx %d datagrams, %.1f per send, %.1f per submission;" \
				       " rx %.1f per read\n", what, v["net_tx_datagrams"],
				       v["net_tx_datagrams"] / v["net_tx_sends"],
				       v["net_tx_datagrams"] / v["net_tx_submits"],
				       v["net_rx_datagrams"] / v["net_rx_reads"] }' \
			"$tmp/$name.$side.stats" 2>/dev/null || true
	done
done
