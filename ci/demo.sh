#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# The main job: installs the dependencies, builds softhca, then
#  1. user mode: two user-mode softhca devices in two processes on this machine,
#     unmodified ibv_rc_pingpong, ib_write_bw and ib_write_lat (the last with the
#     progress thread and with --progress-signal; Debian's binaries) between them
#     over real RoCEv2/UDP, with a short summary;
#  2. the DMA-vs-CQ race of 2007 (shared seeds): a consumer that reads its buffer
#     right after polling the CQE, under --order cqe-first with ABI 1 (stale every
#     time), ABI 2 (ordered CQs: never) and strict (never);
#  3. simulation: `softhca demo`, two simulated HCAs on a lossy virtual wire doing
#     every RC operation (extra arguments of this script go to it).
# Exit status 0 only if everything ran and verified.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash ci/install-deps.sh
cmake -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)" --target softhca softhca_ibverbs usermode_order_2007

SOFTHCA=build/bin/softhca
ORDER_2007=build/bin/usermode/order_2007
for f in "$SOFTHCA" build/lib/usermode/libibverbs.so.1 "$ORDER_2007"; do
	if [[ ! -e $f ]]; then
		echo "demo: the build did not produce $f" >&2
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/softhca-demo.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# One server/client pair: the server in the background, then the client.
# Each process hosts its own device, bound to its own loopback address.
pair() {
	local name=$1 port=$2
	shift 2
	timeout 60 "$SOFTHCA" run --addr 127.0.0.201 "${run_opts[@]}" -- "$@" -p "$port" \
		> "$tmp/$name.server" 2>&1 &
	pids+=($!)
	local server=$!
	sleep 0.5
	if ! timeout 60 "$SOFTHCA" run --addr 127.0.0.202 "${run_opts[@]}" -- "$@" -p "$port" 127.0.0.201 \
		> "$tmp/$name.client" 2>&1; then
		echo "demo: $name client failed:" >&2
		cat "$tmp/$name.client" "$tmp/$name.server" >&2
		return 1
	fi
	if ! wait "$server"; then
		echo "demo: $name server failed:" >&2
		cat "$tmp/$name.server" >&2
		return 1
	fi
}

echo "== user mode: two processes, each with its own softhca device (127.0.0.201, 127.0.0.202)"
run_opts=()
pair rc_pingpong 18515 ibv_rc_pingpong -d sh0 -g 0 -n 1000 -s 4096 -c
pair ib_write_bw 18516 ib_write_bw -d sh0 -x 0 -s 65536 -D 2
pair ib_write_lat 18517 ib_write_lat -d sh0 -x 0 -s 8 -n 5000
run_opts=(--progress-signal)
pair ib_write_lat_sig 18518 ib_write_lat -d sh0 -x 0 -s 8 -n 5000

iters=$(grep -E 'iters in' "$tmp/rc_pingpong.client" | tail -1)
bw=$(awk '/^ *65536 /{print $4}' "$tmp/ib_write_bw.client" | tail -1)
printf '%-14s %s\n' "ibv_rc_pingpong" "4 KiB messages, data checked (-c): $iters"
printf '%-14s %s\n' "ib_write_bw" "64 KiB RDMA WRITEs for 2 s: ${bw:-?} MB/s average"
lat=$(awk '/^ *8 /{print $5}' "$tmp/ib_write_lat.client" | tail -1)
lat_sig=$(awk '/^ *8 /{print $5}' "$tmp/ib_write_lat_sig.client" | tail -1)
printf '%-14s %s\n' "ib_write_lat" "8 B RDMA WRITE, typical one way: ${lat:-?} us (progress thread), ${lat_sig:-?} us (--progress-signal)"
echo

echo "== the 2007 race: read the buffer right after polling the receive CQE (100 SENDs of 4 KiB)"
race() {
	local label=$1 expect=$2 out
	shift 2
	if ! out=$("$SOFTHCA" run --addr 127.0.0.203 "$@" -- "$ORDER_2007" "$expect" 2>&1); then
		echo "demo: order_2007 $* did not give the expected result:" >&2
		echo "$out" >&2
		return 1
	fi
	printf '%-28s %s\n' "$label" "$(grep -E '^stale' <<<"$out" | cut -d';' -f1)"
}
race "cqe-first, ABI 1" 100 --order cqe-first --abi 1
race "cqe-first, ABI 2 (the fix)" 0 --order cqe-first --abi 2
race "strict" 0 --order strict
echo

echo "== simulation: softhca demo $*"
"$SOFTHCA" demo "$@"
