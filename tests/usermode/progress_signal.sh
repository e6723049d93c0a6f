#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/progress_signal.sh SOFTHCA BUILD_DIR SLOT
#
# softhca run --progress-signal: arriving datagrams interrupt the thread that
# last polled the device (SIGURG), whose handler takes them in. Real programs on
# both sides, each with --stats, whose counters show who did the work:
# progress_signal (1: the signals stayed on to the end), progress_signal_packets
# (packets the handler took in) against rx_packets.
#   - ib_write_lat (spins on memory between polls: the case it is for), ib_write_bw
#     (the passive server makes no verbs call at all), ib_send_bw, and
#     ibv_rc_pingpong -c (data checked): complete, and the handler took most
#     packets on both sides;
#   - where the handler must not run (a completion channel: ibv_rc_pingpong -e;
#     --order relaxed; a program with its own SIGURG handler) the progress thread
#     drives the device, the run completes, and the signals are off
#     (progress_signal 0, or the refusal on stderr).
source "$(dirname "$0")/lib.sh"
um_init "$@"
um_require_dropin
um_require_cmd ib_write_lat perftest
um_require_cmd ibv_rc_pingpong ibverbs-utils

# handler_took SIDE STATS: signals on to the end, and the handler took packets in.
# How many depends on the load: a signal to a thread that waits for a CPU may
# find the progress thread's once-a-millisecond look, or a poll after a post,
# there first (idle machine: 95-99 % for ib_write_lat; under ctest -j2 with the
# valgrind tests, 30-60 %); the share is logged.
handler_took() {
	local side=$1 f=$2 on got all
	if [[ ! -s $f ]]; then
		um_why "$side: no counters in $f"
		return 1
	fi
	on=$(um_stat progress_signal "$f")
	got=$(um_stat progress_signal_packets "$f")
	all=$(um_stat rx_packets "$f")
	um_log "    $side: progress_signal=$on rx_packets=$all progress_signal_packets=$got progress_signals_busy=$(um_stat progress_signals_busy "$f")"
	if [[ $on != 1 ]]; then
		um_why "$side: the signals did not stay on (progress_signal=$on)"
		return 1
	fi
	if ! ((all > 0 && got > 0)); then
		um_why "$side: the handler took $got of $all packets"
		return 1
	fi
	um_log "    $side: the handler took $((got * 100 / all)) % of the packets in"
}

# signals_off SIDE STATS: the progress thread drove the device.
signals_off() {
	local on
	on=$(um_stat progress_signal "$2")
	if [[ $on != 0 ]]; then
		um_why "$1: progress_signal=$on, want 0 (the signals must be off)"
		return 1
	fi
}

# pair TAG TIMEOUT [RUN_OPTS...] -- PROGRAM ARGS...: both sides with
# --progress-signal and --stats TAG.{server,client}.stats.
pair() {
	local tag=$1 t=$2
	shift 2
	um_stats_pair "$tag" "$t" --progress-signal "$@"
}

check_write_lat() {
	local ok=0 row
	pair wlat 120 -- ib_write_lat -d "$UM_DEV" -x 0 -F -p @PORT@ -s 8 -n 5000 || return 1
	row=$(um_perftest_rows "$UM_COUT" | head -n 1)
	if ! awk 'NF >= 6 && $1 == 8 && $2 == 5000 && $5 > 0 { ok = 1 } END { exit !ok }' <<<"$row"; then
		um_why "the client reports no 8-byte row of 5000 iterations"
		um_tail "client stdout" "$UM_COUT"
		return 1
	fi
	um_log "    client: bytes iterations t_min t_max t_typical ...: $row"
	handler_took server "$UM_TMP/wlat.server.stats" || ok=1
	handler_took client "$UM_TMP/wlat.client.stats" || ok=1
	return "$ok"
}
um_check "ib_write_lat 8 B x5000: completes, the handler takes packets in on both sides" check_write_lat

check_write_bw() {
	local ok=0
	pair wbw 120 -- ib_write_bw -d "$UM_DEV" -x 0 -F -p @PORT@ -s 65536 -D 2 || return 1
	if ! um_perftest_rows "$UM_COUT" | awk '$1 == 65536 && $4 > 0 { ok = 1 } END { exit !ok }'; then
		um_why "the client reports no 64 KiB row with bandwidth > 0"
		um_tail "client stdout" "$UM_COUT"
		return 1
	fi
	um_log "    client: $(um_perftest_rows "$UM_COUT" | head -n 1)"
	# the server's program makes no verbs call during the run: only the handler
	# (or the thread's fallback, once a millisecond) takes its packets in
	handler_took server "$UM_TMP/wbw.server.stats" || ok=1
	return "$ok"
}
um_check "ib_write_bw 64 KiB for 2 s: completes, the passive server's handler takes packets in" check_write_bw

check_send_bw() {
	pair sbw 120 -- ib_send_bw -d "$UM_DEV" -x 0 -F -p @PORT@ -s 64 -D 2 || return 1
	if ! um_perftest_rows "$UM_COUT" | awk '$1 == 64 && $4 > 0 { ok = 1 } END { exit !ok }'; then
		um_why "the client reports no 64-byte row with bandwidth > 0"
		um_tail "client stdout" "$UM_COUT"
		return 1
	fi
	um_log "    client: $(um_perftest_rows "$UM_COUT" | head -n 1)"
	um_no_match 'Completion with error|[Ff]ailed|Couldn.t' "$UM_SOUT" "$UM_SERR" "$UM_COUT" "$UM_CERR"
}
um_check "ib_send_bw 64 B for 2 s completes" check_send_bw

check_pingpong() {
	local ok=0
	pair pp 120 -- ibv_rc_pingpong -d "$UM_DEV" -g 0 -p @PORT@ -n 2000 -s 4096 -c || return 1
	um_match '^16384000 bytes in' "$UM_COUT" || ok=1
	um_no_match 'invalid data in page' "$UM_SOUT" "$UM_COUT" "$UM_SERR" "$UM_CERR" || ok=1
	handler_took server "$UM_TMP/pp.server.stats" || ok=1
	handler_took client "$UM_TMP/pp.client.stats" || ok=1
	return "$ok"
}
um_check "ibv_rc_pingpong 4 KiB x2000 -c: data intact, the handler takes packets in" check_pingpong

# No allocation inside the handler (malloc is not async-signal-safe): the
# programs run with lib/alloc_in_signal.c preloaded, which counts allocator calls
# made while SIGURG is blocked by its handler. ib_send_bw -q 4 (several QPs, GSO
# groups, coalesced ACKs from the timers) and ib_write_lat.
check_no_alloc() {
	local lib=$UM_BUILD/lib/test/liballoc_in_signal.so ok=0 tag side n
	if [[ ! -e $lib ]]; then
		um_why "$lib is missing (build the usermode_alloc_in_signal target)"
		return 1
	fi
	for tag in nasbw nawlat; do
		um_tcp_port
		PORT=$UM_PORT
		if [[ $tag == nasbw ]]; then
			set -- ib_send_bw -d "$UM_DEV" -x 0 -F -p "$PORT" -s 64 -q 4 -D 2
		else
			set -- ib_write_lat -d "$UM_DEV" -x 0 -F -p "$PORT" -s 8 -n 5000
		fi
		UM_SERVER=(env LD_PRELOAD="$lib" SOFTHCA_TEST_ALLOC_REPORT="$UM_TMP/$tag.server.alloc"
			"$UM_SOFTHCA" run --addr "$UM_SADDR" --progress-signal
			--stats "$UM_TMP/$tag.server.stats" -- "${UM_LB[@]}" "$@")
		UM_CLIENT=(env LD_PRELOAD="$lib" SOFTHCA_TEST_ALLOC_REPORT="$UM_TMP/$tag.client.alloc"
			"$UM_SOFTHCA" run --addr "$UM_CADDR" --progress-signal
			--stats "$UM_TMP/$tag.client.stats" -- "${UM_LB[@]}" "$@" "$UM_SADDR")
		um_pair "$tag" 120 "$PORT" || return 1
		for side in server client; do
			n=$(awk '$1 == "allocations_in_sigurg" { n += $2; seen = 1 }
				END { if (seen) print n }' "$UM_TMP/$tag.$side.alloc" 2>/dev/null)
			um_log "    $tag $side: allocations in the handler: ${n:-no report}," \
				"packets it took in: $(um_stat progress_signal_packets "$UM_TMP/$tag.$side.stats")"
			if [[ $n != 0 ]]; then
				um_why "$tag $side: ${n:-no report of} allocations inside the SIGURG handler"
				um_tail "$side stderr" "$UM_TMP/$tag.$side.err"
				ok=1
			fi
			handler_took "$tag $side" "$UM_TMP/$tag.$side.stats" || ok=1
		done
	done
	return "$ok"
}
um_check "no allocation inside the handler (ib_send_bw -q 4, ib_write_lat; allocator preloaded)" check_no_alloc

check_events() {
	local ok=0
	pair ppe 120 -- ibv_rc_pingpong -d "$UM_DEV" -g 0 -p @PORT@ -n 500 -s 4096 -c -e || return 1
	um_match '^4096000 bytes in' "$UM_COUT" || ok=1
	signals_off server "$UM_TMP/ppe.server.stats" || ok=1
	signals_off client "$UM_TMP/ppe.client.stats" || ok=1
	return "$ok"
}
um_check "ibv_rc_pingpong -e (a completion channel): the progress thread takes over" check_events

check_relaxed() {
	local ok=0
	pair ppr 120 --order relaxed -- ibv_rc_pingpong -d "$UM_DEV" -g 0 -p @PORT@ -n 200 -s 4096 || return 1
	um_match '^1638400 bytes in' "$UM_COUT" || ok=1
	um_match 'progress-signal: not with a DMA policy other than strict' "$UM_SERR" || ok=1
	signals_off server "$UM_TMP/ppr.server.stats" || ok=1
	return "$ok"
}
um_check "--order relaxed: refused on stderr, the progress thread drives the device" check_relaxed

check_own_handler() {
	local out rc
	out=$("$UM_SOFTHCA" run --addr "$UM_SADDR" --progress-signal -- "$UM_PY" -c '
import ctypes, signal, sys
signal.signal(signal.SIGURG, lambda *a: None)
lib = ctypes.CDLL("libibverbs.so.1")
lib.ibv_get_device_list.restype = ctypes.POINTER(ctypes.c_void_p)
lib.ibv_open_device.restype = ctypes.c_void_p
lib.ibv_open_device.argtypes = [ctypes.c_void_p]
lib.ibv_close_device.argtypes = [ctypes.c_void_p]
devs = lib.ibv_get_device_list(None)
ctx = lib.ibv_open_device(devs[0])
sys.exit(0 if ctx and lib.ibv_close_device(ctx) == 0 else 1)' 2>&1)
	rc=$?
	um_log "    $out"
	if [[ $rc -ne 0 ]]; then
		um_why "the program failed (exit $rc)"
		return 1
	fi
	if ! grep -q 'the program handles SIGURG itself' <<<"$out"; then
		um_why "no refusal on stderr for a program with its own SIGURG handler"
		return 1
	fi
}
um_check "a program with its own SIGURG handler keeps it (refusal on stderr)" check_own_handler

um_finish
