#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/rxe_replay.sh SOFTHCA BUILD_DIR SLOT
#
# Packets from Linux's rdma_rxe reach a user-mode device: the datagrams of
# tests/data/rxe-6.1-roce.pcap (two rxe hosts, 192.168.78.1 and .2, in RC, UC
# and UD traffic) are sent again, byte for byte, from the captured source
# address and port to a user-mode device on the captured destination address,
# in a network namespace that has both addresses on its loopback.
#
# rdma_rxe numbers the IPv4 identification of its packets, and the ICRC covers
# it; a UDP socket does not show it. Every intact packet must pass the ICRC check
# and be dropped only after it (none of the capture's QPs exist here: counted as
# drop_qpn), every copy with a flipped payload bit must fail the ICRC check
# (drop_icrc). Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN) for the namespace:
# without it the test says so and fails.
source "$(dirname "$0")/lib.sh"
um_init "$@"
um_require_dropin
um_require_cmd ip iproute2

CAPTURE=$UM_SRC/../data/rxe-6.1-roce.pcap
RXE_A=192.168.78.1
RXE_B=192.168.78.2

make_namespace() {
	NS=softhca-rxe$UM_SLOT-$$
	local steps=(
		"ip netns add $NS"
		"ip -n $NS link set lo up"
		"ip -n $NS addr add $RXE_A/32 dev lo"
		"ip -n $NS addr add $RXE_B/32 dev lo"
	) s out
	for s in "${steps[@]}"; do
		um_log "    setup: $s"
		if ! out=$($s 2>&1); then
			um_why "'$s' failed: $out"
			um_why "network namespaces need root or CAP_SYS_ADMIN + CAP_NET_ADMIN"
			return 1
		fi
		[[ $s == "ip netns add $NS" ]] && UM_NETNS+=("$NS")
	done
	return 0
}

check_replay() {
	local stats=$UM_TMP/device.stats done=$UM_TMP/done hold_out=$UM_TMP/hold.out
	local hold_pid i sent intact flipped icrc qpn drops rc=0
	[[ -r $CAPTURE ]] || { um_why "$CAPTURE is missing"; return 1; }
	make_namespace || return 1
	ip netns exec "$NS" "$UM_SOFTHCA" run --addr "$RXE_A" --stats "$stats" -- \
		"$UM_PY" "$UM_SRC/rxe_replay.py" hold "$done" >"$hold_out" 2>&1 &
	hold_pid=$!
	UM_BG_PIDS+=("$hold_pid")
	for ((i = 0; i < 200; i++)); do
		grep -q 'holding the device open' "$hold_out" 2>/dev/null && break
		kill -0 "$hold_pid" 2>/dev/null || break
		sleep 0.05
	done
	if ! grep -q 'holding the device open' "$hold_out"; then
		um_why "the device on $RXE_A never came up"
		um_tail "device" "$hold_out"
		return 1
	fi
	if ! sent=$(ip netns exec "$NS" "$UM_PY" "$UM_SRC/rxe_replay.py" send "$CAPTURE" \
		--to "$RXE_A" 2>&1); then
		um_why "the replay failed: $sent"
		rc=1
	fi
	sleep 0.3
	touch "$done"
	if ! um_wait_pid "$hold_pid" 30; then
		um_why "the device's program did not exit"
		rc=1
	elif ! wait "$hold_pid"; then
		um_why "the device's program failed"
		um_tail "device" "$hold_out"
		rc=1
	fi
	um_bg_forget "$hold_pid"
	((rc == 0)) || return 1
	um_log "    sent: $sent"
	intact=$(awk '{ print $2 }' <<<"$sent")
	flipped=$(awk '{ print $4 }' <<<"$sent")
	if [[ ! -s $stats ]]; then
		um_why "no counters in $stats (softhca run --stats)"
		return 1
	fi
	icrc=$(um_stat drop_icrc "$stats")
	qpn=$(um_stat drop_qpn "$stats")
	drops=$(um_stat rx_drops "$stats")
	um_log "    device counters: rx_drops=$drops $(awk '$1 ~ /^drop_/ && $2 > 0 { printf "%s=%s ", $1, $2 }' "$stats")"
	if [[ ${qpn:-x} != "$intact" || ${icrc:-x} != "$flipped" || ${drops:-x} != $((intact + flipped)) ]]; then
		um_why "expected drop_qpn=$intact (rxe's packets pass the ICRC), drop_icrc=$flipped (the flipped copies), rx_drops=$((intact + flipped))"
		return 1
	fi
}
um_check "rdma_rxe's captured packets pass the ICRC check of a user-mode device" check_replay

um_finish
