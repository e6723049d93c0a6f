#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/pingpong.sh SOFTHCA BUILD_DIR SLOT KIND
#
# ibverbs-utils' ibv_KIND_pingpong (KIND: rc, uc, ud, srq) between two
# processes on this machine, each on its own user-mode device: the server's
# bound to 127.77.SLOT.1, the client's to 127.77.SLOT.2. The two exchange QP
# numbers over TCP (a port of this slot) and then ping-pong over RoCEv2.
#
# Each run checks: both exit 0; each side printed its own GID (the IPv4-mapped
# GID of its address) and the peer's; the byte and iteration counts of the
# summary; and, with -c, that the server found no "invalid data in page" (the
# pingpong programs print that and still exit 0, so the exit status alone
# would not catch corrupted data).
source "$(dirname "$0")/lib.sh"
um_init "$@"
KIND=${UM_ARGS[0]:-}
case $KIND in
rc | uc | ud | srq) ;;
*)
	echo "usage: $0 SOFTHCA BUILD_DIR SLOT rc|uc|ud|srq" >&2
	exit 2
	;;
esac
PROG=ibv_${KIND}_pingpong
um_require_dropin
um_require_cmd "$PROG" ibverbs-utils

# pingpong TAG TIMEOUT ITERS SIZE [PINGPONG OPTIONS...]
# RUN_S / RUN_C: extra softhca run options of the server / client side;
# ADDR_S / ADDR_C: the addresses (empty: no --addr, the device picks one).
pingpong() {
	local tag=$1 t=$2 iters=$3 size=$4 port ok=0
	shift 4
	um_tcp_port
	port=$UM_PORT
	local common=(-d "$UM_DEV" -g 0 -p "$port" -n "$iters" -s "$size" "$@")
	UM_SERVER=("$UM_SOFTHCA" run ${ADDR_S:+--addr "$ADDR_S"} "${RUN_S[@]}" -- "${UM_LB[@]}" "$PROG" "${common[@]}")
	UM_CLIENT=("$UM_SOFTHCA" run ${ADDR_C:+--addr "$ADDR_C"} "${RUN_C[@]}" -- "${UM_LB[@]}" "$PROG" "${common[@]}"
		"${CONNECT_TO:-$UM_SADDR}")
	um_pair "$tag" "$t" "$port" || return 1
	check_summary "$iters" "$size" || ok=1
	check_gids || ok=1
	if [[ " $* " == *" -c "* ]]; then
		um_no_match 'invalid data in page' "$UM_SOUT" "$UM_SERR" "$UM_COUT" "$UM_CERR" || ok=1
	fi
	return "$ok"
}

# "N bytes in S seconds = R Mbit/sec" and "I iters in S seconds = U usec/iter",
# with N = SIZE x ITERS x 2 (srq_pingpong too, ITERS being its -n).
check_summary() {
	local iters=$1 size=$2 f ok=0
	for f in "$UM_SOUT" "$UM_COUT"; do
		um_match "^$((size * iters * 2)) bytes in [0-9.]+ seconds = [0-9.]+ Mbit/sec\$" "$f" || ok=1
		um_match "^$iters iters in [0-9.]+ seconds = [0-9.]+ usec/iter\$" "$f" || ok=1
	done
	return "$ok"
}

# "local address: LID 0x0000, QPN 0x000011, PSN 0x..., GID ::ffff:127.77.S.1"
check_gids() {
	local ok=0 sgid cgid
	sgid=$(gid_of "$UM_SOUT" local)
	cgid=$(gid_of "$UM_COUT" local)
	if [[ -n ${ADDR_S:-} && $sgid != "::ffff:$ADDR_S" ]]; then
		um_why "server GID is '$sgid', expected ::ffff:$ADDR_S (the IPv4-mapped GID of --addr)"
		ok=1
	fi
	if [[ -n ${ADDR_C:-} && $cgid != "::ffff:$ADDR_C" ]]; then
		um_why "client GID is '$cgid', expected ::ffff:$ADDR_C"
		ok=1
	fi
	if [[ -z ${ADDR_S:-} && ! $sgid =~ ^::ffff:127\.0\.0\.([0-9]+)$ ]]; then
		um_why "server GID is '$sgid', expected ::ffff:127.0.0.N (a free loopback address)"
		ok=1
	fi
	if [[ -z ${ADDR_S:-} && -z ${ADDR_C:-} && $sgid == "$cgid" ]]; then
		um_why "both devices picked the same address $sgid"
		ok=1
	fi
	# each side learned the other's GID
	if [[ $(gid_of "$UM_SOUT" remote) != "$cgid" || $(gid_of "$UM_COUT" remote) != "$sgid" ]]; then
		um_why "the remote GIDs printed do not match the peers' local GIDs"
		ok=1
	fi
	return "$ok"
}

gid_of() {
	sed -n "s/^ *$2 address:.*GID \\(.*\\)\$/\\1/p" "$1" | head -n 1
}

ADDR_S=$UM_SADDR
ADDR_C=$UM_CADDR
RUN_S=()
RUN_C=()

case $KIND in
rc)
	um_check "rc 1 B x1000, data checked" pingpong rc1 60 1000 1 -c
	um_check "rc 4 KiB x1000, data checked" pingpong rc4k 60 1000 4096 -c
	um_check "rc 64 KiB x1000, data checked" pingpong rc64k 300 1000 65536 -c
	um_check "rc 1 MiB x1000, data checked" pingpong rc1m 600 1000 1048576 -c
	um_check "rc 4 KiB x1000, events (-e)" pingpong rc4ke 60 1000 4096 -c -e
	um_check "rc 64 KiB x1000, path MTU 4096" pingpong rcm4k 300 1000 65536 -c -m 4096
	um_check "rc 4 KiB x1000, new post send API (-N)" pingpong rcnew 60 1000 4096 -c -N
	RUN_S=(--no-progress-thread)
	RUN_C=(--no-progress-thread)
	um_check "rc 4 KiB x1000, no progress thread (both)" pingpong rcnpt 60 1000 4096 -c
	um_check "rc 4 KiB x1000, events, no progress thread" pingpong rcnpte 60 1000 4096 -c -e
	RUN_S=(--abi 1)
	RUN_C=(--abi 1)
	um_check "rc 4 KiB x1000, ring ABI 1" pingpong rcabi1 60 1000 4096 -c
	RUN_S=(--mtu 1024)
	RUN_C=(--mtu 1024)
	um_check "rc 4 KiB x1000, port MTU 1024" pingpong rcmtu 60 1000 4096 -c -m 1024
	RUN_S=()
	RUN_C=()
	# no --addr: each device picks a free 127.0.0.N by itself
	ADDR_S='' ADDR_C='' CONNECT_TO=127.0.0.1 \
		um_check "rc 4 KiB x1000, default addresses" pingpong rcdef 60 1000 4096 -c
	;;
uc)
	um_check "uc 1 B x1000, data checked" pingpong uc1 60 1000 1 -c
	um_check "uc 4 KiB x1000, data checked" pingpong uc4k 60 1000 4096 -c
	um_check "uc 64 KiB x1000, data checked" pingpong uc64k 300 1000 65536 -c
	um_check "uc 4 KiB x1000, events (-e)" pingpong uc4ke 60 1000 4096 -c -e
	;;
ud)
	# the receive buffer holds the 40-byte GRH too: size <= MTU - 40
	um_check "ud 1 B x1000, data checked" pingpong ud1 60 1000 1 -c
	um_check "ud 2 KiB x1000, data checked" pingpong ud2k 60 1000 2048 -c
	um_check "ud 4056 B x1000 (MTU 4096 - 40), data checked" pingpong ud4056 60 1000 4056 -c
	um_check "ud 2 KiB x1000, events (-e)" pingpong ud2ke 60 1000 2048 -c -e
	;;
srq)
	um_check "srq 16 QPs, 4 KiB x1000, data checked" pingpong srq4k 300 1000 4096 -c
	um_check "srq 16 QPs, 1 B x1000, data checked" pingpong srq1 300 1000 1 -c
	um_check "srq 4 QPs, 64 KiB x200, data checked" pingpong srq64k 300 200 65536 -c -q 4
	um_check "srq 16 QPs, 4 KiB x1000, events (-e)" pingpong srq4ke 300 1000 4096 -c -e
	;;
esac

um_finish
