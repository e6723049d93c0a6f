#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# On-demand paging in user mode (issue 5): what ODP costs.
#   1. ib_write_bw 64 KiB for 5 s between two processes on loopback, each with its
#      own user-mode device (as bench/usermode_perf.sh), without and with --odp;
#      RUNS times each, alternating, so that both meet the same machine load.
#   2. bench_odp_fault: the time to serve one fault, first touch against warm,
#      with the default fault delay (0) and with --odp-fault-delay 100.
# Usage: bench/odp_perf.sh [BUILD_DIR] [RUNS]   (defaults: build, 3)
# A benchmark, not a test: it fails only if a run fails.
set -euo pipefail
build=${1:-build}
runs=${2:-3}
softhca=$build/bin/softhca
fault=$build/bin/bench_odp_fault
for f in "$softhca" "$fault"; do
	[[ -x $f ]] || { echo "odp_perf: $f missing (build first)" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/softhca-odp-perf.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
port=$((20000 + (RANDOM % 3000) * 3))   # fresh TCP ports: a previous run may hold its own

# bw NAME EXTRA_PERFTEST_ARGS...: one ib_write_bw run; prints the average MB/s.
bw() {
	local name=$1
	shift
	port=$((port + 1))
	timeout 60 "$softhca" run --addr 127.0.0.231 -- ib_write_bw -d sh0 -x 0 -F -s 65536 -D 5 \
		-p "$port" "$@" >"$tmp/$name.srv" 2>&1 &
	local srv=$!
	sleep 1.5   # the server creates its device before it listens
	if ! timeout 60 "$softhca" run --addr 127.0.0.232 -- ib_write_bw -d sh0 -x 0 -F -s 65536 \
		-D 5 -p "$port" "$@" 127.0.0.231 >"$tmp/$name" 2>&1; then
		echo "odp_perf: $name client failed:" >&2
		tail -5 "$tmp/$name" >&2
	fi
	wait "$srv" || echo "odp_perf: $name server exited with status $?" >&2
	awk '/^ *65536 /{ printf "%.0f", $4 }' "$tmp/$name"
}

plain=() odp=()
for ((i = 1; i <= runs; i++)); do
	plain+=("$(bw "plain$i")")
	odp+=("$(bw "odp$i" --odp)")
done
echo "ib_write_bw 64 KiB, MB/s average over 5 s, $runs runs each:"
echo "  without ODP: ${plain[*]}"
echo "  with --odp:  ${odp[*]}"
echo ""
echo "bench_odp_fault (64-byte RDMA WRITE, post to completion):"
"$softhca" run --addr 127.0.0.233 -- "$fault" 512
echo ""
echo "bench_odp_fault with --odp-fault-delay 100:"
"$softhca" run --addr 127.0.0.233 --odp-fault-delay 100 -- "$fault" 256
