#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/devices.sh SOFTHCA BUILD_DIR SLOT
#
# ibv_devices and ibv_devinfo (ibverbs-utils) on a user-mode device: the device
# is listed under its name, its port is active on Ethernet, and GID 0 is the
# RoCE v2 GID of the address it bound (IPv4-mapped for IPv4, the address itself
# for IPv6; a free 127.0.0.N when no address is given). --name and --mtu show.
source "$(dirname "$0")/lib.sh"
um_init "$@"
um_require_dropin
um_require_cmd ibv_devices ibverbs-utils
um_require_cmd ibv_devinfo ibverbs-utils

# "::ffff:127.77.5.1" as ibv_devinfo may print it, in either of its two forms.
gid_regex_v4() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	printf '(::ffff:%s|0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x)' "${1//./\\.}" "$a" "$b" "$c" "$d"
}

check_devices() {
	um_expect_cmd devices 30 "$UM_SOFTHCA" run --addr "$UM_SADDR" -- ibv_devices || return 1
	sed 's/^/      | /' "$UM_OUT"
	um_match "^[[:space:]]+${UM_DEV}[[:space:]]+[0-9a-f]{16}[[:space:]]*\$" "$UM_OUT"
}
um_check "ibv_devices lists sh0 with its node GUID" check_devices

check_devinfo() {
	local ok=0
	um_expect_cmd devinfo 30 "$UM_SOFTHCA" run --addr "$UM_SADDR" -- ibv_devinfo -v || return 1
	um_match "^hca_id:[[:space:]]+$UM_DEV\$" "$UM_OUT" || ok=1
	um_match '^[[:space:]]+transport:[[:space:]]+InfiniBand \(0\)' "$UM_OUT" || ok=1
	um_match '^[[:space:]]+port:[[:space:]]+1$' "$UM_OUT" || ok=1
	um_match '^[[:space:]]+state:[[:space:]]+PORT_ACTIVE \(4\)' "$UM_OUT" || ok=1
	um_match '^[[:space:]]+link_layer:[[:space:]]+Ethernet' "$UM_OUT" || ok=1
	um_match "^[[:space:]]+GID\\[ *0\\]:[[:space:]]+$(gid_regex_v4 "$UM_SADDR"), RoCE v2\$" "$UM_OUT" || ok=1
	um_match '^[[:space:]]+max_qp:[[:space:]]+[1-9][0-9]*$' "$UM_OUT" || ok=1
	um_match '^[[:space:]]+max_mr_size:[[:space:]]+0x[0-9a-f]+' "$UM_OUT" || ok=1
	um_match '^[[:space:]]+active_mtu:[[:space:]]+4096 \(5\)' "$UM_OUT" || ok=1
	[[ $ok -eq 0 ]] && grep -E 'hca_id|state:|link_layer|active_mtu|GID\[' "$UM_OUT" | sed 's/^/      | /'
	return "$ok"
}
um_check "ibv_devinfo -v: sh0, PORT_ACTIVE, Ethernet, GID 0 = RoCE v2 GID of the address" check_devinfo

check_devinfo_plain() {
	um_expect_cmd devinfo0 30 "$UM_SOFTHCA" run --addr "$UM_SADDR" -- ibv_devinfo -d "$UM_DEV" || return 1
	um_match "^hca_id:[[:space:]]+$UM_DEV\$" "$UM_OUT"
}
um_check "ibv_devinfo -d sh0" check_devinfo_plain

check_name() {
	local ok=0
	um_expect_cmd name 30 "$UM_SOFTHCA" run --addr "$UM_SADDR" --name shtest7 -- ibv_devices || return 1
	um_match '^[[:space:]]+shtest7[[:space:]]+[0-9a-f]{16}' "$UM_OUT" || ok=1
	if grep -Eq "^[[:space:]]+${UM_DEV}[[:space:]]" "$UM_OUT"; then
		um_why "$UM_DEV is listed although --name shtest7 was given"
		ok=1
	fi
	um_expect_cmd name2 30 "$UM_SOFTHCA" run --addr "$UM_SADDR" --name shtest7 -- ibv_devinfo -d shtest7 || return 1
	um_match '^hca_id:[[:space:]]+shtest7$' "$UM_OUT" || ok=1
	return "$ok"
}
um_check "--name renames the device" check_name

check_mtu() {
	um_expect_cmd mtu 30 "$UM_SOFTHCA" run --addr "$UM_SADDR" --mtu 1024 -- ibv_devinfo -v || return 1
	um_match '^[[:space:]]+active_mtu:[[:space:]]+1024 \(3\)' "$UM_OUT"
}
um_check "--mtu 1024 shows as the port's active MTU" check_mtu

check_default_addr() {
	local gid
	um_expect_cmd defaddr 30 "$UM_SOFTHCA" run -- ibv_devinfo -v || return 1
	gid=$(grep -E 'GID\[ *0\]:' "$UM_OUT" | head -n 1)
	um_log "    $gid"
	if [[ $gid =~ ::ffff:127\.0\.0\.([0-9]+),\ RoCE\ v2$ ]] && ((BASH_REMATCH[1] >= 2)); then
		return 0
	fi
	if [[ $gid =~ 0000:0000:0000:0000:0000:ffff:7f00:00([0-9a-f]{2}),\ RoCE\ v2$ ]] &&
		((16#${BASH_REMATCH[1]} >= 2)); then
		return 0
	fi
	um_why "GID 0 is not ::ffff:127.0.0.N with N >= 2, RoCE v2: '$gid'"
	return 1
}
um_check "no address given: GID 0 is a free 127.0.0.N, N >= 2" check_default_addr

check_ipv6() {
	local ok=0
	if ! ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
		um_why "this machine has no ::1 on lo (IPv6 disabled?): cannot check an IPv6 device"
		return 1
	fi
	um_expect_cmd v6 30 "$UM_SOFTHCA" run --addr ::1 --port $((47000 + UM_SLOT)) -- ibv_devinfo -v || return 1
	um_match '^[[:space:]]+GID\[ *0\]:[[:space:]]+(::1|0000:0000:0000:0000:0000:0000:0000:0001), RoCE v2$' "$UM_OUT" || ok=1
	return "$ok"
}
um_check "--addr ::1: GID 0 is ::1 (IPv6), RoCE v2" check_ipv6

check_two_devices_one_addr() {
	# a second process asking for an address the first one holds gets a clear error
	local port pid rc
	um_tcp_port
	port=$UM_PORT
	UM_SERVER=("$UM_SOFTHCA" run --addr "$UM_SADDR" -- ibv_rc_pingpong -d "$UM_DEV" -g 0 -p "$port")
	timeout -k 5 60 "${UM_SERVER[@]}" >"$UM_TMP/holder.out" 2>&1 &
	pid=$!
	UM_BG_PIDS+=("$pid")
	if ! um_wait_listen "$port" "$pid"; then
		um_why "ibv_rc_pingpong (holding the device) never listened"
		um_tail holder "$UM_TMP/holder.out"
		return 1
	fi
	um_cmd busy 30 "$UM_SOFTHCA" run --addr "$UM_SADDR" -- ibv_devices
	rc=$UM_RC
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	um_bg_forget "$pid"
	if [[ $rc -ne 2 ]] || ! grep -q "^softhca run: cannot bind ${UM_SADDR//./\\.}:4791: Address already in use\$" "$UM_ERR"; then
		um_why "expected exit 2 and 'cannot bind $UM_SADDR:4791: Address already in use', got exit $rc"
		um_tail stderr "$UM_ERR"
		return 1
	fi
}
um_check "an address held by a running device is refused before exec" check_two_devices_one_addr

um_finish
