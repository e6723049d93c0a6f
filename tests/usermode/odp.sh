#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/odp.sh SOFTHCA BUILD_DIR SLOT PART
#
# On-demand paging in user mode (issue 5). PART:
#   semantics  bin/usermode/odp_semantics (tests/usermode/odp_semantics.c) in each
#              of its modes under `softhca run`, with the counters of --stats
#              checked: a FLUSH prefetch leaves no fault to take, the same traffic
#              without it faults, injected invalidations happen and the data is
#              still right, delayed faults; and two modes under valgrind memcheck.
#   pingpong   ibv_rc_pingpong -o (explicit ODP), -o -P (prefetch), -O (implicit),
#              with -c, two processes; also with injected invalidations and delay.
#   perftest   ib_write_bw --odp and ib_read_bw --odp, two processes.
#   pyverbs    rdma-core's pyverbs test_odp (Debian's copy): every test passes, or
#              skips for huge pages (none allocated on the machine) or XRC (not
#              supported, README); the per-test results are printed.
source "$(dirname "$0")/lib.sh"
um_init "$@"
PART=${UM_ARGS[0]:-}
case $PART in
semantics | pingpong | perftest | pyverbs) ;;
*)
	echo "usage: $0 SOFTHCA BUILD_DIR SLOT semantics|pingpong|perftest|pyverbs" >&2
	exit 2
	;;
esac
um_require_dropin
SEM=$UM_BUILD/bin/usermode/odp_semantics

# stat FILE NAME: the value of one counter of a --stats file (empty if absent).
stat() {
	awk -v n="$2" '$1 == n { print $2 }' "$1"
}

# expect_stat FILE NAME OP VALUE: OP is -eq, -gt...
expect_stat() {
	local v
	v=$(stat "$1" "$2")
	if [[ -z $v ]]; then
		um_why "$2 is missing from $1"
		return 1
	fi
	if ! [ "$v" "$3" "$4" ]; then
		um_why "$2 is $v, expected $3 $4"
		return 1
	fi
	um_log "    $2 = $v"
}

# sem TAG MODE [SOFTHCA RUN OPTIONS...]: one mode; its stats in $UM_TMP/TAG.stats
sem() {
	local tag=$1 mode=$2
	shift 2
	STATS=$UM_TMP/$tag.stats
	um_expect_cmd "$tag" 300 "$UM_SOFTHCA" run --addr "$UM_SADDR" --stats "$STATS" "$@" \
		-- "$SEM" "$mode" || return 1
	sed 's/^/      | /' "$UM_OUT"
	um_match "^odp_semantics $mode: 0 failure" "$UM_OUT"
}

check_mode() {
	sem "$1" "$1"
}

check_prefetch_no_fault() {
	sem prefetch prefetch || return 1
	expect_stat "$STATS" page_faults -eq 0 && expect_stat "$STATS" odp_prefetch_pages -gt 0
}

check_faults_without_prefetch() {
	sem fault fault || return 1
	expect_stat "$STATS" page_faults -gt 0 && expect_stat "$STATS" odp_fault_pages -gt 0 &&
		expect_stat "$STATS" odp_rnr_naks -gt 0
}

check_invalidations() {
	sem inval traffic --odp-invalidate 5 --seed 11 || return 1
	expect_stat "$STATS" odp_injected_invalidations -gt 10 &&
		expect_stat "$STATS" page_faults -gt 100 && expect_stat "$STATS" dma_lost -eq 0
}

# Delayed faults on first touch only: with invalidations too, a responder's RNR
# NAK arriving while the requester is stalled on its own fault is lost by the
# engine (reported), which costs transport timeouts and can exhaust retry_cnt.
check_delay() {
	sem delay traffic --odp-fault-delay 2000 || return 1
	expect_stat "$STATS" odp_fault_delay_max_ns -ge 2000000
}

check_prefault() {
	sem prefault traffic --odp-prefault || return 1
	expect_stat "$STATS" page_faults -eq 0 && expect_stat "$STATS" odp_first_touch_pages -gt 0
}

check_bad_values() {
	local bad ok=0
	for bad in "--odp-invalidate 1" "--odp-invalidate x" "--odp-fault-delay -1" \
		"--odp-fault-delay 10000001" "--odp-prefault=1"; do
		# shellcheck disable=SC2086 # the option and its value are two words
		if um_cmd badval 10 "$UM_SOFTHCA" run $bad -- true; then
			um_why "softhca run $bad -- true was accepted"
			ok=1
		elif ! grep -q "odp" "$UM_ERR"; then
			um_why "softhca run $bad: the error does not name the option: $(cat "$UM_ERR")"
			ok=1
		else
			um_log "    $(head -n 1 "$UM_ERR")"
		fi
	done
	if um_cmd badenv 10 env SOFTHCA_ODP_INVALIDATE=1 "$UM_SOFTHCA" run -- true; then
		um_why "SOFTHCA_ODP_INVALIDATE=1 was accepted"
		ok=1
	fi
	return "$ok"
}

check_valgrind() {
	local mode=$1 log=$UM_TMP/vg-$1.log
	um_require_cmd valgrind valgrind
	um_cmd "vg-$mode" 900 "$UM_SOFTHCA" run --addr "$UM_SADDR" --odp-invalidate 7 --seed 1 -- \
		valgrind --error-exitcode=99 --leak-check=full \
		--show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible --track-origins=yes \
		--suppressions="$UM_SRC/valgrind.supp" --log-file="$log" "$SEM" "$mode"
	local rc=$UM_RC
	if [[ $rc -ne 0 ]]; then
		um_why "odp_semantics $mode under valgrind: $(um_exit_text $rc 900)"
		um_tail "valgrind log" "$log"
		um_tail stdout "$UM_OUT"
		return 1
	fi
	um_log "    $(grep 'ERROR SUMMARY' "$log")"
	um_match "ERROR SUMMARY: 0 errors" "$log"
}

# ---- pingpong and perftest: two processes -------------------------------------------------

pp() {
	local tag=$1 t=$2
	shift 2
	um_require_cmd ibv_rc_pingpong ibverbs-utils
	um_tcp_port
	local common=(-d "$UM_DEV" -g 0 -p "$UM_PORT" -n 500 -s 65536 -c "$@")
	UM_SERVER=("$UM_SOFTHCA" run --addr "$UM_SADDR" --stats "$UM_TMP/$tag.s.stats" "${RUN[@]}"
		-- "${UM_LB[@]}" ibv_rc_pingpong "${common[@]}")
	UM_CLIENT=("$UM_SOFTHCA" run --addr "$UM_CADDR" --stats "$UM_TMP/$tag.c.stats" "${RUN[@]}"
		-- "${UM_LB[@]}" ibv_rc_pingpong "${common[@]}" "$UM_SADDR")
	um_pair "$tag" "$t" "$UM_PORT" || return 1
	local ok=0 f
	for f in "$UM_SOUT" "$UM_COUT"; do
		um_match "^$((65536 * 500 * 2)) bytes in" "$f" || ok=1
	done
	um_no_match "invalid data|Couldn.t|isn.t ODP|doesn.t support" \
		"$UM_SOUT" "$UM_SERR" "$UM_COUT" "$UM_CERR" || ok=1
	return "$ok"
}

check_pp_odp() {
	pp odp 120 -o || return 1
	expect_stat "$UM_TMP/odp.s.stats" page_faults -gt 0
}

check_pp_prefetch() {
	pp prefetch 120 -o -P || return 1
	# the prefetch made the buffer present on both sides: no fault at all
	expect_stat "$UM_TMP/prefetch.s.stats" odp_prefetch_pages -gt 0 &&
		expect_stat "$UM_TMP/prefetch.s.stats" page_faults -eq 0 &&
		expect_stat "$UM_TMP/prefetch.c.stats" page_faults -eq 0
}

check_pp_implicit() {
	pp implicit 120 -O || return 1
	expect_stat "$UM_TMP/implicit.c.stats" page_faults -gt 0
}

check_pp_invalidate() {
	RUN=(--odp-invalidate 400 --odp-fault-delay 100 --seed 9)
	pp inval 300 -o
	local rc=$?
	RUN=()
	((rc == 0)) || return 1
	expect_stat "$UM_TMP/inval.s.stats" odp_injected_invalidations -gt 0
}

pf() {
	local tool=$1
	shift
	um_require_cmd "$tool" perftest
	um_tcp_port
	local common=(-d "$UM_DEV" -x 0 -F -p "$UM_PORT" -n 500 -s 65536 --odp "$@")
	UM_SERVER=("$UM_SOFTHCA" run --addr "$UM_SADDR" --stats "$UM_TMP/$tool.s.stats"
		-- "${UM_LB[@]}" "$tool" "${common[@]}")
	UM_CLIENT=("$UM_SOFTHCA" run --addr "$UM_CADDR" --stats "$UM_TMP/$tool.c.stats"
		-- "${UM_LB[@]}" "$tool" "${common[@]}" "$UM_SADDR")
	um_pair "$tool" 300 "$UM_PORT" || return 1
	local row
	row=$(um_perftest_rows "$UM_COUT" | head -n 1)
	if ! [[ $row =~ ^65536\ 500\  ]]; then
		um_why "no 65536-byte row with 500 iterations in the report: '$row'"
		um_tail "client stdout" "$UM_COUT"
		return 1
	fi
	um_log "    $row"
	um_no_match 'Completion with error|[Ff]ailed|Couldn.t|[Uu]nable|[Ee]rror' \
		"$UM_SOUT" "$UM_SERR" "$UM_COUT" "$UM_CERR" || return 1
	expect_stat "$UM_TMP/$tool.s.stats" page_faults -gt 0
}

# ---- pyverbs test_odp ------------------------------------------------------------------------

check_pyverbs_odp() {
	local dir=$UM_TMP/tests
	cp -r /usr/share/doc/rdma-core/tests "$dir" && gunzip -f "$dir"/*.gz ||
		{ um_why "cannot copy and unpack /usr/share/doc/rdma-core/tests"; return 1; }
	# the two huge-page tests run (rather than skip) when 2 MiB pages are reserved
	um_hugepages_reserve 16
	um_cmd pyodp 900 env -C "$dir" "$UM_SOFTHCA" run --addr "$UM_SADDR" -- "$UM_PY" \
		run_tests.py -v test_odp
	local rc=$UM_RC log=$UM_TMP/pyodp.log
	um_hugepages_restore
	cat "$UM_OUT" "$UM_ERR" >"$log"
	grep -E ' \.\.\. ' "$log" | sed 's/^/      | /'
	local total pass bad skips
	total=$(grep -cE '^test_odp_.* \.\.\. ' "$log")
	pass=$(grep -cE '^test_odp_.* \.\.\. ok$' "$log")
	bad=$(grep -E '^test_odp_.* \.\.\. (FAIL|ERROR)' "$log")
	# skips allowed: XRC (not supported), and huge pages only when none could
	# be reserved (not root)
	local allowed="XRCD is not supported"
	((UM_HUGE_OK)) || allowed+="|no huge pages|huge pages .*not supported"
	skips=$(grep -E '^test_odp_.* \.\.\. skipped' "$log" | grep -vE "$allowed")
	um_log "    test_odp: $total tests, $pass passed"
	if [[ -n $bad || -n $skips || $total -lt 17 ]]; then
		[[ -z $bad ]] || um_why "failed or in error: $bad"
		[[ -z $skips ]] || um_why "skipped for a reason that is not an unsupported feature: $skips"
		((total >= 17)) || um_why "only $total tests ran (test_odp has 17): $(tail -n 5 "$log")"
		um_tail "log" "$log"
		return 1
	fi
	if [[ $rc -ne 0 ]]; then
		um_why "run_tests.py: $(um_exit_text "$rc" 900)"
		return 1
	fi
}

RUN=()
case $PART in
semantics)
	um_require_cmd "$SEM" "(build the usermode_odp_semantics target)"
	um_check "unmap + map again at the same address: the device reaches the new memory" check_mode remap
	um_check "unmapped and read-only pages: the right error status on both sides, the process lives" check_mode errors
	um_check "implicit ODP traffic and the argument checks of ODP and ibv_advise_mr" check_mode implicit
	um_check "prefetch with FLUSH: no page fault afterwards" check_prefetch_no_fault
	um_check "the same traffic without prefetch: page faults and RNR NAKs" check_faults_without_prefetch
	um_check "injected invalidations (--odp-invalidate 5): data still right" check_invalidations
	um_check "delayed faults (--odp-fault-delay 2000 us), first touch" check_delay
	um_check "--odp-prefault: pages start present, no fault" check_prefault
	um_check "bad --odp-* values and SOFTHCA_ODP_* variables are clear errors" check_bad_values
	um_check "valgrind memcheck: odp_semantics errors" check_valgrind errors
	um_check "valgrind memcheck: odp_semantics traffic, invalidations" check_valgrind traffic
	;;
pingpong)
	um_check "ibv_rc_pingpong -o -c (explicit ODP) 64 KiB x500" check_pp_odp
	um_check "ibv_rc_pingpong -o -P -c (synchronous prefetch) 64 KiB x500" check_pp_prefetch
	um_check "ibv_rc_pingpong -O -c (implicit ODP) 64 KiB x500" check_pp_implicit
	um_check "ibv_rc_pingpong -o -c, invalidations and delayed faults" check_pp_invalidate
	;;
perftest)
	um_check "ib_write_bw --odp 64 KiB x500" pf ib_write_bw
	um_check "ib_read_bw --odp 64 KiB x500" pf ib_read_bw
	;;
pyverbs)
	um_check "pyverbs test_odp: every test passes or skips for an unsupported feature" check_pyverbs_odp
	;;
esac

um_finish
