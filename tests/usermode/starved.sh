#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/starved.sh SOFTHCA BUILD_DIR SLOT
#
# A device whose process is starved: the server process (program, device and
# progress thread together) is frozen with SIGSTOP for STOP_MS, then let run
# for RUN_MS, again and again while perftest runs. Meanwhile its peer's
# requests go unanswered, pile up in the frozen process's socket and are
# retransmitted; when the process runs again its device must take the backlog
# off the socket (a multishot receive that ran out of provided buffers is armed
# again), answer, and both RC QPs must carry on. perftest's QPs give up after
# 8 timeouts of 67 ms (timeout 14, retry count 7): about 537 ms without an
# answer. A stop of 250 ms leaves half of that for the process to be scheduled
# again on a loaded machine.
#
# Checks:
#   - ib_atomic_bw -b: atomics both ways (the peers' responder caches answer
#     the duplicates), the server stopped 250 ms out of every 500
#   - ib_write_bw -b 64 KiB: full send windows of 4 KiB datagrams (UDP_SEGMENT
#     sends, UDP_GRO receives) pile up behind a stop
#   - the same with the io_uring multishot receive (SOFTHCA_NET_RX=uring) and
#     without UDP_GRO: every datagram takes a provided buffer, the backlog
#     outnumbers them and the multishot receive must be armed again (the
#     server's net_rx_rearms counts it)
#   - ib_atomic_bw -b on the syscalls back end (recvmmsg/sendmmsg)
# (By default the io_uring back end sends through io_uring and receives with
# recvmmsg, which the first two checks exercise.)
#   - the other side of the budget: one stop of 1500 ms must end the client's
#     QP with RETRY_EXC_ERR (status 12), or the stops above prove nothing
# Each starved run must have met the stops (the client counted timeouts and
# retransmitted) and lost no datagram in its own sending (net_tx_errors 0).
source "$(dirname "$0")/lib.sh"
um_init "$@"
um_require_dropin
um_require_cmd ib_atomic_bw perftest
um_require_cmd ib_write_bw perftest

STOP_MS=250
RUN_MS=250
DURATION=4                  # seconds of traffic per starved run (perftest -D)
LONG_STOP_MS=1500           # well past the 537 ms retry budget
STARVE_ENV=(env)            # environment of both sides (env VAR=VALUE...)

um_ms() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }

# counter FILE NAME: a counter from a --stats file (empty when absent).
counter() { awk -v n="$2" '$1 == n { print $2 }' "$1" 2>/dev/null; }

# The process to freeze: the program softhca run execed under timeout(1).
program_of() { pgrep -P "$1" | head -n 1; }

# wait_started FILE PID: until perftest printed its report header (the QPs are
# connected and the traffic starts) or PID is gone; 30 s at most.
wait_started() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q '#bytes' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# starve TAG STOP_MS RUN_MS MAX_STOPS TOOL [PERFTEST OPTIONS...]: server and
# client as two user-mode devices; once the traffic runs, the server's process
# is stopped for STOP_MS and continued for RUN_MS until the client ends or
# MAX_STOPS stops were made. Sets STOPS (how many), SRC and CRC (exit statuses),
# and the files S_OUT, S_ERR, C_OUT, C_ERR, S_STATS, C_STATS.
starve() {
	local tag=$1 stop_ms=$2 run_ms=$3 max_stops=$4 tool=$5 spid cpid prog
	shift 5
	local common=(-d "$UM_DEV" -x 0 -F "$@")
	um_tcp_port
	common+=(-p "$UM_PORT")
	S_OUT=$UM_TMP/$tag.server.out S_ERR=$UM_TMP/$tag.server.err
	C_OUT=$UM_TMP/$tag.client.out C_ERR=$UM_TMP/$tag.client.err
	S_STATS=$UM_TMP/$tag.server.stats C_STATS=$UM_TMP/$tag.client.stats
	STOPS=0 SRC=-1 CRC=-1
	local server=("${STARVE_ENV[@]}" "$UM_SOFTHCA" run --addr "$UM_SADDR" --stats "$S_STATS" --
		      "${UM_LB[@]}" "$tool" "${common[@]}")
	local client=("${STARVE_ENV[@]}" "$UM_SOFTHCA" run --addr "$UM_CADDR" --stats "$C_STATS" --
		      "${UM_LB[@]}" "$tool" "${common[@]}" "$UM_SADDR")
	um_log "    server: $(um_quote "${server[@]}")"
	um_log "    client: $(um_quote "${client[@]}")"
	timeout -k 10 60 "${server[@]}" >"$S_OUT" 2>"$S_ERR" &
	spid=$!
	UM_BG_PIDS+=("$spid")
	if ! um_wait_listen "$UM_PORT" "$spid"; then
		um_why "the server never listened on TCP port $UM_PORT"
		um_tail "server stderr" "$S_ERR"
		return 1
	fi
	timeout -k 10 60 "${client[@]}" >"$C_OUT" 2>"$C_ERR" &
	cpid=$!
	UM_BG_PIDS+=("$cpid")
	if wait_started "$C_OUT" "$cpid"; then
		prog=$(program_of "$spid")
		while [[ -n $prog ]] && ((STOPS < max_stops)) && kill -0 "$cpid" 2>/dev/null; do
			kill -STOP "$prog" 2>/dev/null || break
			sleep "$(um_ms "$stop_ms")"
			kill -CONT "$prog"
			STOPS=$((STOPS + 1))
			sleep "$(um_ms "$run_ms")"
		done
		# never leave it frozen, whatever happened above
		[[ -z $prog ]] || kill -CONT "$prog" 2>/dev/null
	fi
	wait "$cpid"
	CRC=$?
	um_bg_forget "$cpid"
	um_wait_pid "$spid" 20 || kill "$spid" 2>/dev/null
	wait "$spid"
	SRC=$?
	um_bg_forget "$spid"
	um_log "    $STOPS stops of $stop_ms ms; client $(um_exit_text "$CRC" 60)," \
	       "server $(um_exit_text "$SRC" 60)"
	return 0
}

# starved_run_ok: both ended well, and the stops really met the traffic.
starved_run_ok() {
	local ok=0 timeouts retx n side f
	if ((CRC != 0 || SRC != 0)) || grep -q 'Completion with error' "$C_ERR" "$S_ERR"; then
		um_why "a side failed while its peer was starved within the retry budget"
		um_tail "client stderr" "$C_ERR"
		um_tail "server stderr" "$S_ERR"
		return 1
	fi
	if ((STOPS < 3)); then
		um_why "only $STOPS stops were made while the client ran (want at least 3)"
		ok=1
	fi
	timeouts=$(counter "$C_STATS" timeouts)
	retx=$(counter "$C_STATS" retransmits)
	um_log "    client: timeouts ${timeouts:-?}, retransmits ${retx:-?}"
	if [[ -z $timeouts || -z $retx ]]; then
		um_why "no timeouts/retransmits counters in $C_STATS"
		ok=1
	elif ((timeouts == 0 || retx == 0)); then
		um_why "the client never timed out: the stops did not starve the traffic"
		ok=1
	fi
	for side in client server; do
		f=$C_STATS
		[[ $side == server ]] && f=$S_STATS
		n=$(counter "$f" net_tx_errors)
		if [[ $n != 0 ]]; then
			um_why "$side: net_tx_errors ${n:-missing} (datagrams the host failed to send)"
			ok=1
		fi
	done
	return $ok
}

check_atomics_both_ways() {
	starve atomic "$STOP_MS" "$RUN_MS" 40 ib_atomic_bw -b -D "$DURATION" || return 1
	starved_run_ok
}

check_writes_both_ways() {
	starve write "$STOP_MS" "$RUN_MS" 40 ib_write_bw -b -s 65536 -D "$DURATION" || return 1
	starved_run_ok
}

# With the multishot receive and without UDP_GRO every datagram takes one
# provided buffer: the backlog of a stop outnumbers them, the multishot receive
# ends (ENOBUFS) and must be armed again, or the device stays deaf.
check_writes_rearm() {
	STARVE_ENV=(env SOFTHCA_NET_RX=uring SOFTHCA_NET_GRO=0)
	starve rearm "$STOP_MS" "$RUN_MS" 40 ib_write_bw -b -s 65536 -D "$DURATION"
	local rc=$?
	STARVE_ENV=(env)
	((rc == 0)) || return 1
	starved_run_ok || return 1
	local rearms
	rearms=$(counter "$S_STATS" net_rx_rearms)
	um_log "    server: net_rx_rearms ${rearms:-?}"
	if [[ -z $rearms ]] || ((rearms == 0)); then
		um_why "the server's receive never ran out of buffers (net_rx_rearms ${rearms:-missing}):" \
		       "the re-arm path was not exercised"
		return 1
	fi
	return 0
}

check_syscalls_backend() {
	STARVE_ENV=(env SOFTHCA_NET=syscalls)
	starve syscalls "$STOP_MS" "$RUN_MS" 40 ib_atomic_bw -b -D "$DURATION"
	local rc=$?
	STARVE_ENV=(env)
	((rc == 0)) || return 1
	starved_run_ok
}

check_past_the_budget() {
	starve long "$LONG_STOP_MS" 0 1 ib_atomic_bw -D 3 || return 1
	if ((STOPS != 1)); then
		um_why "the server was not stopped while the client ran"
		return 1
	fi
	if ((CRC == 0)) || ! grep -q 'Failed status 12' "$C_ERR" "$C_OUT"; then
		um_why "a peer silent for $LONG_STOP_MS ms did not end the client's QP with" \
		       "RETRY_EXC_ERR (status 12); client $(um_exit_text "$CRC" 60)"
		um_tail "client stderr" "$C_ERR"
		return 1
	fi
	return 0
}

um_check "ib_atomic_bw -b survives a server stopped $STOP_MS ms every $((STOP_MS + RUN_MS)) ms" \
	check_atomics_both_ways
um_check "ib_write_bw -b 64 KiB survives a server stopped $STOP_MS ms every $((STOP_MS + RUN_MS)) ms" \
	check_writes_both_ways
um_check "ib_write_bw -b, multishot receive without UDP_GRO: armed again after a stop's backlog" \
	check_writes_rearm
um_check "ib_atomic_bw -b on the syscalls back end (SOFTHCA_NET=syscalls) survives the stops" \
	check_syscalls_backend
um_check "a server stopped $LONG_STOP_MS ms ends the client's QP with RETRY_EXC_ERR" \
	check_past_the_budget
um_finish
