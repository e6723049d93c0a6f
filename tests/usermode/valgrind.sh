#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/valgrind.sh SOFTHCA BUILD_DIR SLOT
#
# Valgrind memcheck of ibv_rc_pingpong on a user-mode device, both sides under
#     softhca run --addr ADDR -- valgrind --error-exitcode=99 --leak-check=full ... ibv_rc_pingpong
# so the drop-in (engine, UDP host, progress thread, rings, completion
# channels) runs inside memcheck on both ends of a real exchange. Any memory
# error, and any definite, indirect or possible leak, fails the check. The only
# suppressions are tests/usermode/valgrind.supp, which may hold reports that are
# not ours (glibc, ld.so, the client program) and never one in our library:
# the test checks that too, and lists the suppressions a run used.
source "$(dirname "$0")/lib.sh"
um_init "$@"
um_require_dropin
um_require_cmd ibv_rc_pingpong ibverbs-utils
um_require_cmd valgrind valgrind

SUPP=$UM_SRC/valgrind.supp
# shellcheck disable=SC2054 # commas inside option values
VG=(valgrind --error-exitcode=99 --leak-check=full
	--show-leak-kinds=definite,indirect,possible
	--errors-for-leak-kinds=definite,indirect,possible
	--track-origins=yes --num-callers=40 -s
	--suppressions="$SUPP")

check_supp_is_not_ours() {
	# frames and objects of entries: none may name the drop-in or our sources
	local bad
	bad=$(grep -nE '^[[:space:]]*(fun|obj|src):' "$SUPP" |
		grep -iE 'softhca|usermode|libibverbs|uh_|emu_|softhca_|verbs_|ibv_|fastpath' || true)
	if [[ -n $bad ]]; then
		um_why "valgrind.supp names our code (suppressions may only hide what is not ours):"
		sed 's/^/      | /' <<<"$bad"
		return 1
	fi
	um_log "    $(grep -c '^{' "$SUPP") entries, none in our code"
}
um_check "valgrind.supp suppresses nothing of ours" check_supp_is_not_ours

# vg_pingpong TAG ITERS SIZE [OPTIONS...]
vg_pingpong() {
	local tag=$1 iters=$2 size=$3 port ok=0 side log
	shift 3
	um_tcp_port
	port=$UM_PORT
	local common=(ibv_rc_pingpong -d "$UM_DEV" -g 0 -p "$port" -n "$iters" -s "$size" "$@")
	UM_SERVER=("$UM_SOFTHCA" run --addr "$UM_SADDR" -- "${VG[@]}"
		--log-file="$UM_TMP/$tag.server.vg" "${common[@]}")
	UM_CLIENT=("$UM_SOFTHCA" run --addr "$UM_CADDR" -- "${VG[@]}"
		--log-file="$UM_TMP/$tag.client.vg" "${common[@]}" "$UM_SADDR")
	um_pair "$tag" 300 "$port" || ok=1
	for side in server client; do
		log=$UM_TMP/$tag.$side.vg
		if [[ $side == client && $UM_CLIENT_RC == -1 ]]; then
			um_why "client: not run (the server did not get that far)"
			[[ -s $log ]] || continue
		fi
		if [[ ! -s $log ]]; then
			um_why "$side: no valgrind log $log"
			ok=1
			continue
		fi
		if [[ $side == server && $UM_SERVER_RC -eq 99 || $side == client && $UM_CLIENT_RC -eq 99 ]]; then
			um_why "$side: valgrind found errors (exit 99)"
		fi
		vg_report "$side" "$log" || ok=1
	done
	um_no_match 'invalid data in page' "$UM_SOUT" "$UM_COUT" || ok=1
	return "$ok"
}

# vg_report SIDE LOG: the error and leak summaries, the first errors, and the
# suppressions that were used.
vg_report() {
	local side=$1 log=$2 ok=0 summary
	summary=$(grep -E 'ERROR SUMMARY:' "$log" | tail -n 1)
	if [[ -z $summary ]]; then
		um_why "$side: no ERROR SUMMARY in $log: valgrind did not finish (hung or killed)"
		um_tail "$side valgrind log" "$log"
		return 1
	fi
	um_log "    $side: ${summary#==*== }"
	if ! [[ $summary =~ ERROR\ SUMMARY:\ 0\ errors ]]; then
		um_why "$side: ${summary#==*== }"
		# the first reports, frames included: enough to find the culprit
		awk '/^==[0-9]+== *$/ { blank = 1; next }
		     /ERROR SUMMARY|HEAP SUMMARY|LEAK SUMMARY|used_suppression/ { exit }
		     started || /(Invalid|uninitialised|Uninitialised|Mismatched|definitely lost|indirectly lost|possibly lost|Syscall param|Source and destination|Jump to)/ { started = 1; print }' \
			"$log" | head -n 80 | sed 's/^/      | /'
		ok=1
	fi
	if ! grep -q 'All heap blocks were freed\|definitely lost: 0 bytes' "$log"; then
		grep -E 'definitely lost|indirectly lost|possibly lost' "$log" | sed 's/^/      | /'
	fi
	grep -E 'used_suppression' "$log" | sed 's/^==[0-9]*== */      suppressed: /'
	return "$ok"
}

# The drop-in's UDP back ends (provider/usermode/net.h): io_uring sends with
# recvmmsg receives, the default; the io_uring multishot receive
# (SOFTHCA_NET_RX=uring); plain system calls (SOFTHCA_NET=syscalls).
um_check "ibv_rc_pingpong 4 KiB x200, both sides under memcheck (default: io_uring sends, recvmmsg)" \
	vg_pingpong rc 200 4096 -c
um_check "ibv_rc_pingpong 64 KiB x50, events, both sides under memcheck (default: io_uring sends, recvmmsg)" \
	vg_pingpong rce 50 65536 -c -e
SOFTHCA_NET_RX=uring um_check "ibv_rc_pingpong 4 KiB x200, both sides under memcheck (SOFTHCA_NET_RX=uring)" \
	vg_pingpong rcurx 200 4096 -c
SOFTHCA_NET=syscalls um_check "ibv_rc_pingpong 4 KiB x200, both sides under memcheck (SOFTHCA_NET=syscalls)" \
	vg_pingpong rcsys 200 4096 -c
SOFTHCA_NET=syscalls um_check "ibv_rc_pingpong 64 KiB x50, events, both sides under memcheck (SOFTHCA_NET=syscalls)" \
	vg_pingpong rcesys 50 65536 -c -e
# signal-driven progress: the handler drives the device inside the program's thread
SOFTHCA_PROGRESS_SIGNAL=1 um_check "ibv_rc_pingpong 4 KiB x200, both sides under memcheck (--progress-signal)" \
	vg_pingpong rcsig 200 4096 -c

um_finish
