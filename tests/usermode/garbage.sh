#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/garbage.sh SOFTHCA BUILD_DIR SLOT
#
# Garbage on the wire: while a real run goes on between two user-mode devices,
# garbage.py throws random datagrams, truncated RoCEv2 packets and whole
# packets with a bad ICRC (aimed at the server's QP, with PSNs near the live
# ones) at the server's UDP port 4791. The run must complete with its figures
# (ib_send_bw) and with its data intact (ibv_rc_pingpong -c, whose received
# pages are checked).
#
# The drop-in must also count what it dropped: the server's counters, written
# at exit by softhca run --stats, must show bad-ICRC drops and other
# malformed-packet drops.
source "$(dirname "$0")/lib.sh"
um_init "$@"
um_require_dropin
um_require_cmd ib_send_bw perftest
um_require_cmd ibv_rc_pingpong ibverbs-utils

# thrower OUT_FILE SERVER_LOG SECONDS: once the server printed its QPN, throw
# garbage at it; the result goes to OUT_FILE. Runs in the background.
thrower() {
	local out=$1 log=$2 secs=$3 i qpn psn
	for ((i = 0; i < 600; i++)); do
		# perftest: " local address: LID 0000 QPN 0x0011 PSN 0x3a2b1c ..."
		# pingpong: "  local address:  LID 0x0000, QPN 0x000011, PSN 0x3a2b1c, GID ..."
		qpn=$(sed -n 's/^ *local address:.*QPN \(0x[0-9a-fA-F]*\).*/\1/p' "$log" 2>/dev/null | head -n 1)
		psn=$(sed -n 's/^ *remote address:.*PSN \(0x[0-9a-fA-F]*\).*/\1/p' "$log" 2>/dev/null | head -n 1)
		[[ -n $qpn && -n $psn ]] && break
		sleep 0.1
	done
	if [[ -z $qpn || -z $psn ]]; then
		echo "thrower: the server never printed its QPN and the peer's PSN" >"$out"
		return 1
	fi
	"$UM_PY" "$UM_SRC/garbage.py" --to "$UM_SADDR" --qpn "$qpn" --psn "$psn" \
		--seconds "$secs" --rate 3000 --seed "$UM_SLOT" >"$out" 2>&1
}

# under_fire TAG SECONDS: run UM_SERVER/UM_CLIENT with the thrower going.
under_fire() {
	local tag=$1 secs=$2 tpid trc ok=0
	local tout=$UM_TMP/$tag.garbage
	thrower "$tout" "$UM_TMP/$tag.server.out" "$secs" &
	tpid=$!
	UM_BG_PIDS+=("$tpid")
	um_pair "$tag" 300 "$PORT" || ok=1
	wait "$tpid"
	trc=$?
	um_bg_forget "$tpid"
	um_log "    $(cat "$tout")"
	if [[ $trc -ne 0 ]]; then
		um_why "the garbage thrower failed (exit $trc): $(cat "$tout")"
		ok=1
	fi
	return "$ok"
}

# dropped_counted STATS: the server's counters (softhca run --stats) show garbage
# dropped by the engine: bad ICRCs and malformed headers, by reason.
dropped_counted() {
	local f=$1 icrc drops
	if [[ ! -s $f ]]; then
		um_why "no counters in $f (softhca run --stats)"
		return 1
	fi
	icrc=$(awk '$1 == "drop_icrc" { print $2 }' "$f")
	drops=$(awk '$1 == "rx_drops" { print $2 }' "$f")
	um_log "    server counters: rx_drops=$drops $(awk '$1 ~ /^drop_/ && $2 > 0 { printf "%s=%s ", $1, $2 }' "$f")"
	if ! [[ ${icrc:-0} -gt 0 && ${drops:-0} -gt ${icrc:-0} ]]; then
		um_why "expected bad-ICRC drops and other malformed-packet drops counted, got drop_icrc=${icrc:-none} rx_drops=${drops:-none}"
		return 1
	fi
}

check_send_bw() {
	local rows
	um_tcp_port
	PORT=$UM_PORT
	local common=(-d "$UM_DEV" -x 0 -F -p "$PORT" -D 5 -s 4096)
	# stdbuf: the thrower reads the QPN from the server's output while it runs
	UM_SERVER=("$UM_SOFTHCA" run --addr "$UM_SADDR" --stats "$UM_TMP/sendbw.stats" -- "${UM_LB[@]}" ib_send_bw "${common[@]}")
	UM_CLIENT=("$UM_SOFTHCA" run --addr "$UM_CADDR" -- "${UM_LB[@]}" ib_send_bw "${common[@]}" "$UM_SADDR")
	under_fire sendbw 4 || return 1
	rows=$(um_perftest_rows "$UM_COUT")
	if ! awk 'NF >= 5 && $1 == 4096 && $2 > 0 && $4 > 0 { ok = 1 } END { exit !ok }' <<<"$rows"; then
		um_why "the client reports no 4096-byte row with iterations and bandwidth > 0"
		um_tail "client stdout" "$UM_COUT"
		return 1
	fi
	um_log "    client: $(head -n 1 <<<"$rows")"
	um_no_match 'Completion with error|[Ff]ailed|Couldn.t' "$UM_SOUT" "$UM_SERR" "$UM_COUT" "$UM_CERR" || return 1
	dropped_counted "$UM_TMP/sendbw.stats"
}
um_check "ib_send_bw 4 KiB for 5 s under garbage completes" check_send_bw

check_pingpong() {
	local ok=0
	um_tcp_port
	PORT=$UM_PORT
	local common=(-d "$UM_DEV" -g 0 -p "$PORT" -n 50000 -s 4096 -c)
	UM_SERVER=("$UM_SOFTHCA" run --addr "$UM_SADDR" --stats "$UM_TMP/pp.stats" -- "${UM_LB[@]}" ibv_rc_pingpong "${common[@]}")
	UM_CLIENT=("$UM_SOFTHCA" run --addr "$UM_CADDR" -- "${UM_LB[@]}" ibv_rc_pingpong "${common[@]}" "$UM_SADDR")
	under_fire pp 3 || return 1
	um_match '^409600000 bytes in' "$UM_COUT" || ok=1
	um_no_match 'invalid data in page' "$UM_SOUT" "$UM_COUT" "$UM_SERR" "$UM_CERR" || ok=1
	dropped_counted "$UM_TMP/pp.stats" || ok=1
	return "$ok"
}
um_check "rc_pingpong 4 KiB x50000 under garbage, data checked" check_pingpong

um_finish
