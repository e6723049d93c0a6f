#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Same seed, same decisions, in user mode: two runs of one program with the same
# `softhca run --seed N --order P --trace FILE` (and the same address: the device
# id, part of every decision's key, comes from it) make the same decisions, and
# other seeds make other ones.
#
# What is compared is `softhca timeline --decisions TRACE`: the dma-hold,
# dma-write, dma-cqe-first and cqe records, sorted. The raw trace also holds the
# packets and the deferral points, and in a real process those depend on
# scheduling: how datagrams batch through the socket decides how ACKs coalesce
# (the number of tx/rx records), and which verbs call lands held data decides the
# dma-deferral records and where the landed writes sit in the trace. With one
# message in flight (order_2007) the raw traces are usually identical too; with
# many (trace_burst) they usually are not. Both are reported, neither is hidden.
#
# usage: trace_determinism.sh SOFTHCA BUILD_DIR SLOT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

um_init "$@"
um_require_dropin

ORDER_2007=$UM_BUILD/bin/usermode/order_2007
BURST=$UM_BUILD/bin/usermode/trace_burst
for p in "$ORDER_2007" "$BURST"; do
	if [[ ! -x $p ]]; then
		um_log "FAIL: $p is missing (build the usermode_$(basename "$p") target)"
		exit 1
	fi
done

# traced NAME SEED ORDER PROGRAM ARGS...: one run, its trace in $UM_TMP/NAME.trace,
# its decisions in NAME.dec, its stdout in NAME.out.
traced() {
	local name=$1 seed=$2 order=$3
	shift 3
	rm -f "$UM_TMP/$name.trace"   # the host appends
	um_expect_cmd "$name" 120 "$UM_SOFTHCA" run --addr "$UM_SADDR" --seed "$seed" \
		--order "$order" --abi 1 --trace "$UM_TMP/$name.trace" -- "$@" || return 1
	if [[ ! -s $UM_TMP/$name.trace ]]; then
		um_why "$name: no trace written to $UM_TMP/$name.trace"
		return 1
	fi
	um_expect_cmd "$name.dec" 60 "$UM_SOFTHCA" timeline --decisions \
		"$UM_TMP/$name.trace" -o "$UM_TMP/$name.dec" || return 1
	if [[ ! -s $UM_TMP/$name.dec ]]; then
		um_why "$name: the trace holds no decision record"
		return 1
	fi
}

# same_file WHAT A B: fail with the first differing lines unless identical.
same_file() {
	if cmp -s "$2" "$3"; then
		return 0
	fi
	um_why "$1 differ ($(diff "$2" "$3" | grep -c '^[<>]') lines):"
	diff "$2" "$3" | head -n 8 | sed 's/^/      | /'
	return 1
}

# report_raw A B: whether the raw traces matched too (information, not a check).
report_raw() {
	local a=$UM_TMP/$1.trace b=$UM_TMP/$2.trace
	if cmp -s "$a" "$b"; then
		um_log "    raw traces identical too ($(wc -l <"$a") lines)"
	else
		um_log "    raw traces differ, as scheduling may make them: lines per kind"
		um_log "      $1: $(awk '{ print $2 }' "$a" | sort | uniq -c | tr -s ' \n' ' ')"
		um_log "      $2: $(awk '{ print $2 }' "$b" | sort | uniq -c | tr -s ' \n' ' ')"
	fi
}

# Every record: stable identifiers and numbers only (no pointers, no times).
well_formed() {
	local bad
	bad=$(grep -Evc '^dev[0-9]+ [a-z-]+ qpn=[0-9]+ psn=[0-9]+ op=0x[0-9a-f]{2} wr=[0-9]+ a=[0-9]+ b=[0-9]+( \([a-z_]+\))?$' "$1")
	if [[ $bad -ne 0 ]]; then
		um_why "$1 has $bad lines that are not decision/trace records:"
		grep -Ev '^dev[0-9]+ [a-z-]+ qpn=[0-9]+ ' "$1" | head -n 3 | sed 's/^/      | /'
		return 1
	fi
}

check_same_seed() {
	local prog=$1 name=$2 seed=$3 order=$4
	shift 4
	traced "$name.1" "$seed" "$order" "$prog" "$@" || return 1
	traced "$name.2" "$seed" "$order" "$prog" "$@" || return 1
	well_formed "$UM_TMP/$name.1.trace" || return 1
	report_raw "$name.1" "$name.2"
	um_log "    $(wc -l <"$UM_TMP/$name.1.dec") decisions each"
	same_file "decisions of two runs with seed $seed" "$UM_TMP/$name.1.dec" \
		"$UM_TMP/$name.2.dec" || return 1
	same_file "outputs of two runs with seed $seed" "$UM_TMP/$name.1.out" \
		"$UM_TMP/$name.2.out"
}

check_other_seed() {
	local prog=$1 name=$2 seed=$3 other=$4 order=$5
	shift 5
	traced "$name.$other" "$other" "$order" "$prog" "$@" || return 1
	if cmp -s "$UM_TMP/$name.1.dec" "$UM_TMP/$name.$other.dec"; then
		um_why "seeds $seed and $other made the same $(wc -l <"$UM_TMP/$name.1.dec") decisions"
		return 1
	fi
	um_log "    seed $seed: $(head -n 1 "$UM_TMP/$name.1.out")"
	um_log "    seed $other: $(head -n 1 "$UM_TMP/$name.$other.out")"
}

# Under strict nothing is drawn from the seed: other seeds, same decisions (the
# comparison itself is not blind).
check_strict_ignores_seed() {
	traced strict.1 5 strict "$BURST" || return 1
	traced strict.2 6 strict "$BURST" || return 1
	same_file "strict decisions of seeds 5 and 6" "$UM_TMP/strict.1.dec" \
		"$UM_TMP/strict.2.dec" || return 1
	if grep -q ' dma-hold \| dma-cqe-first ' "$UM_TMP/strict.1.dec"; then
		um_why "strict held or reordered something"
		return 1
	fi
}

# order_2007 expects 0 stale reads and fails under mix with ABI 1 when it sees
# some; its stale count is a decision too, so its output is compared, not its status.
wrap=$UM_TMP/order_2007_any.sh
printf '#!/bin/sh\n"%s" 0\nexit 0\n' "$ORDER_2007" >"$wrap"
chmod +x "$wrap"

um_check "order_2007, mix, seed 5: two runs, same decisions and stale reads" \
	check_same_seed "$wrap" o2007 5 mix
um_check "order_2007, mix: seed 6 decides otherwise" \
	check_other_seed "$wrap" o2007 5 6 mix
um_check "trace_burst (17 messages in flight), mix, seed 5: two runs, same decisions" \
	check_same_seed "$BURST" burst 5 mix
um_check "trace_burst, mix: seed 6 decides otherwise" \
	check_other_seed "$BURST" burst 5 6 mix
um_check "trace_burst, relaxed, seed 9: two runs, same decisions" \
	check_same_seed "$BURST" relaxed 9 relaxed
um_check "trace_burst, strict: seeds 5 and 6 decide alike (nothing is drawn)" \
	check_strict_ignores_seed
um_finish
