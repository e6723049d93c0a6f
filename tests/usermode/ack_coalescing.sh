#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/ack_coalescing.sh SOFTHCA BUILD_DIR SLOT
#
# ACK coalescing (docs/usermode.md, Speed): in a ping-pong the ACK for a
# request waits for the program's answer and leaves in the same send; a program
# that does not answer gets its ACKs at once, and a hold that runs out is sent
# anyway and ends the holding. The devices' --stats counters show it:
# acks_held (receive batches whose ACKs waited), acks_held_late (holds that ran
# out), net_tx_sends against net_tx_datagrams (an ACK behind a request joins its
# UDP_SEGMENT send on loopback).
#   - ib_write_lat 8 B x5000, with the progress thread and with
#     --progress-signal: completes; both sides held ACKs, and some left in one
#     send with a request;
#   - ib_write_bw 64 KiB (a passive server: never answers): the server held
#     no ACK at all;
#   - ack_hold (tests/usermode/ack_hold.c): a ping-pong, then one-way WRITEs
#     each waited for; every WRITE completes, a hold ran out (at the switch)
#     and the holding stopped (a handful of late holds, not one per WRITE).
# How many ACKs wait depends on the load (an answer later than 30 us ends the
# trust for a few round trips); the shares are logged, only > 0 is required.
source "$(dirname "$0")/lib.sh"
um_init "$@"
um_require_dropin
um_require_cmd ib_write_lat perftest
um_require_cmd ib_write_bw perftest

ACK_HOLD=$UM_BUILD/bin/usermode/ack_hold


# held_and_joined SIDE STATS: ACKs waited, and some left in a request's send.
held_and_joined() {
	local side=$1 f=$2 held acks sends dgrams
	if [[ ! -s $f ]]; then
		um_why "$side: no counters in $f"
		return 1
	fi
	held=$(um_stat acks_held "$f")
	acks=$(um_stat tx_acks "$f")
	sends=$(um_stat net_tx_sends "$f")
	dgrams=$(um_stat net_tx_datagrams "$f")
	um_log "    $side: tx_acks=$acks acks_held=$held acks_held_late=$(um_stat acks_held_late "$f")" \
	       "net_tx_datagrams=$dgrams net_tx_sends=$sends"
	if ! ((held > 0)); then
		um_why "$side: no ACK waited for the answer (acks_held=$held of tx_acks=$acks)"
		return 1
	fi
	if ! ((sends < dgrams)); then
		um_why "$side: every datagram left in a send of its own ($dgrams in $sends sends)"
		return 1
	fi
	um_log "    $side: $((held * 100 / acks)) % of the ACKs waited;" \
	       "$((dgrams - sends)) datagrams shared a send"
}

check_write_lat() {
	local tag=$1 ok=0
	shift
	um_stats_pair "$tag" 120 "$@" -- ib_write_lat -d "$UM_DEV" -x 0 -F -p @PORT@ -s 8 -n 5000 || return 1
	um_log "    client: $(um_perftest_rows "$UM_COUT" | head -n 1)"
	if ! um_perftest_rows "$UM_COUT" | awk '$1 == 8 && $2 == 5000 { ok = 1 } END { exit !ok }'; then
		um_why "the client reports no 8-byte row of 5000 iterations"
		um_tail "client stdout" "$UM_COUT"
		return 1
	fi
	held_and_joined server "$UM_TMP/$tag.server.stats" || ok=1
	held_and_joined client "$UM_TMP/$tag.client.stats" || ok=1
	return "$ok"
}
um_check "ib_write_lat 8 B x5000 (progress thread): ACKs wait for the answer and leave with it" \
	check_write_lat wlat
um_check "ib_write_lat 8 B x5000 (--progress-signal): ACKs wait for the answer and leave with it" \
	check_write_lat wlatsig --progress-signal

check_passive() {
	local f held late
	um_stats_pair wbw 120 -- ib_write_bw -d "$UM_DEV" -x 0 -F -p @PORT@ -s 65536 -D 2 || return 1
	f=$UM_TMP/wbw.server.stats
	held=$(um_stat acks_held "$f")
	late=$(um_stat acks_held_late "$f")
	um_log "    server: tx_acks=$(um_stat tx_acks "$f") acks_held=$held acks_held_late=$late"
	if [[ $held != 0 || $late != 0 ]]; then
		um_why "the passive server held ACKs (acks_held=${held:-missing}," \
		       "acks_held_late=${late:-missing}); it never answers, so none may wait"
		return 1
	fi
}
um_check "ib_write_bw 64 KiB: the passive server's ACKs never wait" check_passive

check_stops_answering() {
	local tag=$1 f held late
	shift
	f=$UM_TMP/$tag.stats
	if [[ ! -x $ACK_HOLD ]]; then
		um_why "$ACK_HOLD is missing (build the usermode_ack_hold target)"
		return 1
	fi
	um_expect_cmd "$tag" 120 "$UM_SOFTHCA" run --addr "$UM_SADDR" "$@" --stats "$f" \
		-- "$ACK_HOLD" 500 500 || return 1
	um_log "    $(cat "$UM_OUT")"
	held=$(um_stat acks_held "$f")
	late=$(um_stat acks_held_late "$f")
	um_log "    acks_held=$held acks_held_late=$late tx_acks=$(um_stat tx_acks "$f")"
	if ! ((held > 0)); then
		um_why "the ping-pong phase held no ACK (acks_held=$held)"
		return 1
	fi
	if ! ((late >= 1)); then
		um_why "no hold ran out (acks_held_late=$late), though the program stopped answering"
		return 1
	fi
	# Holding on after a late one would make every one-way WRITE late (500).
	if ((late > 50)); then
		um_why "$late holds ran out: the holding did not stop when the answers did"
		return 1
	fi
}
um_check "ping-pong then one-way WRITEs (progress thread): the held ACK leaves, holding stops" \
	check_stops_answering hold
um_check "ping-pong then one-way WRITEs (--progress-signal): the held ACK leaves, holding stops" \
	check_stops_answering holdsig --progress-signal
um_finish
