#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/capture.sh SOFTHCA BUILD_DIR SLOT
#
# `softhca run --pcap FILE` on both sides of real runs (ibv_rc_pingpong,
# ibv_ud_pingpong, ib_write_bw, ib_read_bw). Each capture is checked by
# capture_check.py: every frame is Ethernet/IP/UDP 4791 between the two
# devices' addresses with a correct ICRC; tshark decodes every frame as
# InfiniBand (RRoCE), none malformed; the opcodes are the ones the run sent
# (SEND_ONLY for small pingpongs, SEND FIRST/MIDDLE/LAST for larger ones, RDMA
# WRITE FIRST/MIDDLE/LAST for ib_write_bw, READ REQUEST for ib_read_bw) in the
# number the run sent; request PSNs rise by one per packet; the last request is
# acknowledged; and what one side captured sending, the other captured
# receiving.
source "$(dirname "$0")/lib.sh"
um_init "$@"
um_require_dropin
um_require_cmd ibv_rc_pingpong ibverbs-utils
um_require_cmd ibv_ud_pingpong ibverbs-utils
um_require_cmd ib_write_bw perftest
um_require_cmd ib_read_bw perftest
um_require_cmd tshark tshark
CHECK=("$UM_PY" "$UM_SRC/capture_check.py")

# captured TAG PROGRAM "PROGRAM ARGS" "SERVER CHECKS" "CLIENT CHECKS"
# PORT_OPT is the program's TCP port option; the checks are capture_check.py options.
captured() {
	local tag=$1 prog=$2 args=$3 schecks=$4 cchecks=$5 port ok=0
	local spcap=$UM_TMP/$tag.server.pcap cpcap=$UM_TMP/$tag.client.pcap
	um_tcp_port
	port=$UM_PORT
	# shellcheck disable=SC2206
	local pargs=($args -p "$port")
	UM_SERVER=("$UM_SOFTHCA" run --addr "$UM_SADDR" --pcap "$spcap" -- "${UM_LB[@]}" "$prog" "${pargs[@]}")
	UM_CLIENT=("$UM_SOFTHCA" run --addr "$UM_CADDR" --pcap "$cpcap" -- "${UM_LB[@]}" "$prog" "${pargs[@]}" "$UM_SADDR")
	um_pair "$tag" 300 "$port" || return 1
	um_no_match 'invalid data in page' "$UM_SOUT" "$UM_COUT" || ok=1
	local f
	for f in "$spcap" "$cpcap"; do
		if [[ ! -s $f ]]; then
			um_why "no capture file $f (or it is empty)"
			return 1
		fi
	done
	# shellcheck disable=SC2206
	local sc=($schecks) cc=($cchecks)
	um_log "    check: capture_check.py --pcap $(basename "$cpcap") ${cc[*]}"
	if ! "${CHECK[@]}" --pcap "$cpcap" --local "$UM_CADDR" --peer "$UM_SADDR" \
		--peer-pcap "$spcap" "${cc[@]}" >"$UM_TMP/$tag.client.check" 2>&1; then
		um_why "the client's capture fails its checks"
		ok=1
	fi
	sed 's/^/      | /' "$UM_TMP/$tag.client.check"
	um_log "    check: capture_check.py --pcap $(basename "$spcap") ${sc[*]}"
	if ! "${CHECK[@]}" --pcap "$spcap" --local "$UM_SADDR" --peer "$UM_CADDR" \
		--peer-pcap "$cpcap" "${sc[@]}" >"$UM_TMP/$tag.server.check" 2>&1; then
		um_why "the server's capture fails its checks"
		ok=1
	fi
	sed 's/^/      | /' "$UM_TMP/$tag.server.check"
	if [[ $ok -eq 0 ]]; then
		um_log "    tshark -r $(basename "$cpcap") (first frames):"
		tshark -r "$cpcap" 2>/dev/null | head -n 6 | sed 's/^/      | /'
	fi
	return "$ok"
}

PP=(-d "$UM_DEV" -g 0)
PT=(-d "$UM_DEV" -x 0 -F)

# ibv_rc_pingpong: the client sends first; each side sends ITERS messages.
um_check "rc_pingpong 64 B x50: SEND_ONLY both ways, ACKed, PSN +1" captured pp64 ibv_rc_pingpong \
	"${PP[*]} -s 64 -n 50 -c" \
	"--pmtu 1024 --expect out:send:50:1 --expect in:send:50:1 --no-naks --lossless" \
	"--pmtu 1024 --expect out:send:50:1 --expect in:send:50:1 --no-naks --lossless"
um_check "rc_pingpong 4 KiB x20, path MTU 1024: SEND FIRST/MIDDLE/MIDDLE/LAST" captured pp4k ibv_rc_pingpong \
	"${PP[*]} -s 4096 -m 1024 -n 20 -c" \
	"--pmtu 1024 --expect out:send:20:4 --expect in:send:20:4 --no-naks --lossless" \
	"--pmtu 1024 --expect out:send:20:4 --expect in:send:20:4 --no-naks --lossless"
um_check "ud_pingpong 512 B x20: UD SEND_ONLY both ways" captured ud ibv_ud_pingpong \
	"${PP[*]} -s 512 -n 20 -c" \
	"--expect out:send:20:1 --expect in:send:20:1 --lossless" \
	"--expect out:send:20:1 --expect in:send:20:1 --lossless"
# ib_write_bw: 50 writes of 64 KiB at path MTU 1024 = 64 packets each, client to server only.
um_check "ib_write_bw 64 KiB x50, MTU 1024: RDMA WRITE FIRST/62 MIDDLE/LAST" captured wbw ib_write_bw \
	"${PT[*]} -s 65536 -n 50 -m 1024" \
	"--pmtu 1024 --expect in:write:50:64 --no-requests out" \
	"--pmtu 1024 --expect out:write:50:64 --no-requests in"
um_check "ib_read_bw 64 KiB x20, MTU 1024: READ REQUEST, 64-packet responses" captured rbw ib_read_bw \
	"${PT[*]} -s 65536 -n 20 -m 1024" \
	"--pmtu 1024 --expect in:read:20:1 --no-requests out" \
	"--pmtu 1024 --expect out:read:20:1 --no-requests in"

um_finish
