#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/netns.sh SOFTHCA BUILD_DIR SLOT
#
# Server and client in two network namespaces joined by a veth pair
# (10.77.SLOT.1/24 and 10.77.SLOT.2/24), each side started as
#     ip netns exec NS softhca run --netdev VETH -- PROGRAM ...
# so the device binds to the veth's address and its RoCEv2 packets cross a
# real (virtual) Ethernet link with a 1500-byte MTU. Needs root (or
# CAP_SYS_ADMIN + CAP_NET_ADMIN): without it the test says so and fails.
source "$(dirname "$0")/lib.sh"
um_init "$@"
um_require_dropin
for c in ibv_rc_pingpong ibv_uc_pingpong ibv_ud_pingpong ibv_srq_pingpong; do
	um_require_cmd "$c" ibverbs-utils
done
for c in ib_write_bw ib_read_bw ib_send_bw ib_atomic_bw ib_write_lat ib_read_lat ib_send_lat ib_atomic_lat; do
	um_require_cmd "$c" perftest
done
um_require_cmd ip iproute2

um_check "two network namespaces joined by a veth pair" um_netns_pair
if ((UM_CHECKS_FAILED > 0)); then
	um_log "cannot run the namespace checks without the namespaces"
	um_finish
fi

# side NS VETH PROGRAM ARGS...: the command line of one side.
side() {
	local ns=$1 veth=$2
	shift 2
	SIDE=(ip netns exec "$ns" "$UM_SOFTHCA" run --netdev "$veth" "${RUN_EXTRA[@]}" -- "${UM_LB[@]}" "$@")
}
RUN_EXTRA=()

# pingpong TAG PROGRAM ITERS SIZE [OPTIONS...]
pingpong() {
	local tag=$1 prog=$2 iters=$3 size=$4 port ok=0 g
	shift 4
	um_tcp_port
	port=$UM_PORT
	local common=(-d "$UM_DEV" -g 0 -p "$port" -n "$iters" -s "$size" "$@")
	side "$UM_NS_A" "$UM_VETH_A" "$prog" "${common[@]}"
	UM_SERVER=("${SIDE[@]}")
	side "$UM_NS_B" "$UM_VETH_B" "$prog" "${common[@]}" "$UM_NS_ADDR_A"
	UM_CLIENT=("${SIDE[@]}")
	UM_SERVER_NS=$UM_NS_A um_pair "$tag" 180 "$port" || return 1
	um_match "^$((size * iters * 2)) bytes in [0-9.]+ seconds" "$UM_COUT" || ok=1
	um_no_match 'invalid data in page' "$UM_SOUT" "$UM_COUT" "$UM_SERR" "$UM_CERR" || ok=1
	# each device took its veth's address: GID 0 = ::ffff:10.77.SLOT.x
	g=$(sed -n 's/^ *local address:.*GID //p' "$UM_SOUT" | head -n 1)
	if [[ $g != "::ffff:$UM_NS_ADDR_A" ]]; then
		um_why "server GID '$g', expected ::ffff:$UM_NS_ADDR_A (the address of $UM_VETH_A)"
		ok=1
	fi
	g=$(sed -n 's/^ *local address:.*GID //p' "$UM_COUT" | head -n 1)
	if [[ $g != "::ffff:$UM_NS_ADDR_B" ]]; then
		um_why "client GID '$g', expected ::ffff:$UM_NS_ADDR_B (the address of $UM_VETH_B)"
		ok=1
	fi
	return "$ok"
}

# perf TAG TOOL ITERS [OPTIONS...]: exit statuses and a result row with
# ITERS iterations and non-zero figures on the client.
perf() {
	local tag=$1 tool=$2 iters=$3 port rows bad
	shift 3
	um_tcp_port
	port=$UM_PORT
	local common=(-d "$UM_DEV" -x 0 -F -p "$port" -n "$iters" "$@")
	side "$UM_NS_A" "$UM_VETH_A" "$tool" "${common[@]}"
	UM_SERVER=("${SIDE[@]}")
	side "$UM_NS_B" "$UM_VETH_B" "$tool" "${common[@]}" "$UM_NS_ADDR_A"
	UM_CLIENT=("${SIDE[@]}")
	UM_SERVER_NS=$UM_NS_A um_pair "$tag" 300 "$port" || return 1
	iters=$(um_perftest_iters "$iters" "$@")
	rows=$(um_perftest_rows "$UM_COUT")
	if [[ -z $rows ]]; then
		um_why "the client printed no result row"
		um_tail "client stdout" "$UM_COUT"
		return 1
	fi
	bad=$(awk -v iters="$iters" -v tool="$tool" '
		$2 != iters { print "size " $1 ": " $2 " iterations, expected " iters; next }
		tool ~ /_bw$/ && !($4 > 0) { print "size " $1 ": BW average " $4; next }
		tool ~ /_lat$/ && !($3 > 0) { print "size " $1 ": t_min " $3 }
	' <<<"$rows")
	if [[ -n $bad ]]; then
		um_why "$bad"
		return 1
	fi
	um_log "    client: $(head -n 1 <<<"$rows")"
}

check_devinfo() {
	side "$UM_NS_A" "$UM_VETH_A" ibv_devinfo -v
	um_expect_cmd devinfo 30 "${SIDE[@]}" || return 1
	um_match "GID\\[ *0\\]:[[:space:]]+::ffff:${UM_NS_ADDR_A//./\\.}, RoCE v2\$" "$UM_OUT" || return 1
	um_match 'state:[[:space:]]+PORT_ACTIVE' "$UM_OUT" || return 1
	grep -E 'active_mtu|GID\[' "$UM_OUT" | sed 's/^/      | /'
}
um_check "ibv_devinfo -v in $UM_NS_A: GID 0 is the veth's address" check_devinfo

um_check "rc_pingpong 4 KiB x1000, data checked" pingpong rc ibv_rc_pingpong 1000 4096 -c
um_check "rc_pingpong 1 MiB x50, data checked" pingpong rc1m ibv_rc_pingpong 50 1048576 -c
um_check "rc_pingpong 4 KiB x1000, events" pingpong rce ibv_rc_pingpong 1000 4096 -c -e
um_check "uc_pingpong 4 KiB x1000, data checked" pingpong uc ibv_uc_pingpong 1000 4096 -c
um_check "ud_pingpong 512 B x1000, data checked" pingpong ud ibv_ud_pingpong 1000 512 -c
um_check "srq_pingpong 4 KiB x500, data checked" pingpong srq ibv_srq_pingpong 500 4096 -c
um_check "ib_write_bw 64 KiB x200" perf wbw ib_write_bw 200 -s 65536
um_check "ib_write_bw -b 64 KiB x200" perf wbwb ib_write_bw 200 -s 65536 -b
um_check "ib_write_bw -q 4 64 KiB x200" perf wbwq ib_write_bw 200 -s 65536 -q 4
um_check "ib_send_bw 64 KiB x200" perf sbw ib_send_bw 200 -s 65536
um_check "ib_read_bw 64 KiB x200" perf rbw ib_read_bw 200 -s 65536
um_check "ib_atomic_bw x1000" perf abw ib_atomic_bw 1000
um_check "ib_write_lat x1000" perf wlat ib_write_lat 1000
um_check "ib_send_lat x1000" perf slat ib_send_lat 1000
um_check "ib_read_lat x1000" perf rlat ib_read_lat 1000
um_check "ib_atomic_lat x1000" perf alat ib_atomic_lat 1000

um_finish
