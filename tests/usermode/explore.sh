#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# softhca explore and softhca timeline.
#   explore: a planted bug (fails when SOFTHCA_SEED is a multiple of 7) is found at
#   seed 7, with and without --jobs, even when a higher failing seed finishes first;
#   the printed replay command fails again; a range without the bug passes; usage
#   errors exit 2.
#   timeline: a simulator trace becomes a well-formed SVG (and HTML) with one lane
#   per (device, QP) of the trace and one mark per event.
#   explore --timeline: the 2007 consumer (order_2007, expecting no stale read)
#   under `softhca run --abi 1` and --order mix fails for some seed; explore
#   replays that seed with a trace and draws it: the picture names the seed and
#   has a lane for each QP of the run; a program that writes no trace is told so.
#
# usage: explore.sh SOFTHCA BUILD_DIR SLOT
set -u

SOFTHCA=$1
BUILD=$2
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

[ -x "$SOFTHCA" ] || { echo "FAIL: $SOFTHCA is missing"; exit 1; }

# ---- the planted bug ------------------------------------------------------------------
prog=$tmp/planted.sh
cat > "$prog" <<'PROG'
#!/bin/sh
# "slow7": seed 7 takes its time, so that with --jobs seed 14 fails first.
[ "${1:-}" = slow7 ] && [ "$SOFTHCA_SEED" = 7 ] && sleep 1
echo "seed=$SOFTHCA_SEED order=${SOFTHCA_ORDER:-unset}" >> "$(dirname "$0")/seen"
if [ $((SOFTHCA_SEED % 7)) -eq 0 ]; then
	echo "planted bug at seed $SOFTHCA_SEED"
	exit 3
fi
exit 0
PROG
chmod +x "$prog"

# explore_expect NAME WANT_RC WANT_SEED ARGS... : runs explore, checks status and seed,
# leaves the output in $out and the replay command in $replay.
explore_expect() {
	local name=$1 want_rc=$2 want_seed=$3 rc
	shift 3
	out=$("$SOFTHCA" explore "$@" 2>"$tmp/err")
	rc=$?
	replay=$(printf '%s\n' "$out" | sed -n 's/^replay: //p')
	if [ "$rc" != "$want_rc" ]; then
		fail "$name: exit status $rc, want $want_rc"; echo "$out"; cat "$tmp/err"
		return 1
	fi
	if [ -n "$want_seed" ]; then
		if ! printf '%s\n' "$out" | grep -q "^softhca explore: seed $want_seed FAILED"; then
			fail "$name: seed $want_seed not reported"; echo "$out"; return 1
		fi
		case "$replay" in
		"SOFTHCA_SEED=$want_seed "*) ;;
		*) fail "$name: replay line '$replay' does not start with SOFTHCA_SEED=$want_seed"
		   return 1 ;;
		esac
	fi
	pass "$name"
}

# replay_fails NAME: the replay command, run by a shell, fails with the planted status.
replay_fails() {
	(cd "$tmp" && sh -c "$replay" > "$tmp/replay.out" 2>&1)
	local rc=$?
	if [ "$rc" != 3 ]; then
		fail "$1: replay '$replay' exited $rc, want 3"
	elif ! grep -q "planted bug at seed 7" "$tmp/replay.out"; then
		fail "$1: replay did not hit the bug at seed 7"; cat "$tmp/replay.out"
	else
		pass "$1: replay fails again"
	fi
}

explore_expect "seeds 1..20" 1 7 --seeds 1..20 -- "$prog" && replay_fails "seeds 1..20"
# seeds 1..6 ran once each, 8 and above never
if [ "$(sort -u "$tmp/seen" | tr '\n' ' ')" = \
     "seed=1 order=unset seed=2 order=unset seed=3 order=unset seed=4 order=unset seed=5 order=unset seed=6 order=unset seed=7 order=unset " ]; then
	pass "seeds 1..7 ran, nothing after"
else
	fail "seeds run: $(tr '\n' ' ' < "$tmp/seen")"
fi
rm -f "$tmp/seen"

explore_expect "--jobs 4" 1 7 --seeds 1..20 --jobs 4 -- "$prog" && replay_fails "--jobs 4"
explore_expect "--jobs 4, seed 14 fails first" 1 7 --seeds 1..30 --jobs 4 -- "$prog" slow7
explore_expect "--order relaxed" 1 7 --seeds 1..20 --order relaxed --jobs 3 -- "$prog" &&
	replay_fails "--order relaxed"
case "$replay" in
*"SOFTHCA_ORDER=relaxed "*) pass "replay sets SOFTHCA_ORDER" ;;
*) fail "replay '$replay' lacks SOFTHCA_ORDER=relaxed" ;;
esac
grep -q "seed=3 order=relaxed" "$tmp/seen" || fail "the program did not see SOFTHCA_ORDER"

explore_expect "seeds 1..6 pass" 0 "" --seeds 1..6 -- "$prog"
printf '%s\n' "$out" | grep -q "all 6 seeds passed" || fail "no summary: $out"
explore_expect "seeds 1..6 pass, --jobs 4" 0 "" --seeds 1..6 --jobs 4 -- "$prog"
explore_expect "seeds 8..13 pass" 0 "" --seeds 8..13 -- "$prog"
grep -q "100%" "$tmp/err" || fail "no progress line on stderr (not a terminal)"
explore_expect "single seed 14" 1 14 --seeds 14 -- "$prog"

# signal and timeout count as failures
explore_expect "signal" 1 1 --seeds 1..3 -- sh -c 'kill -SEGV $$'
printf '%s\n' "$out" | grep -q "signal 11" || fail "signal not described: $out"
explore_expect "timeout" 1 2 --seeds 2..4 --timeout 0.3 -- sleep 5
printf '%s\n' "$out" | grep -q "timed out" || fail "timeout not described: $out"

# PROGRAM softhca is this executable, also in the replay command
explore_expect "softhca as PROGRAM passes" 0 "" --seeds 1..2 -- softhca timeline --help
explore_expect "softhca as PROGRAM fails" 1 1 --seeds 1..2 -- softhca timeline /nonexistent
case "$replay" in
"SOFTHCA_SEED=1 /"*"softhca timeline /nonexistent") pass "replay names softhca by path" ;;
*) fail "replay '$replay' does not name softhca by its path" ;;
esac

# usage errors
for args in "--seeds 5..1 -- true" "--seeds 1..x -- true" "--seeds -3..4 -- true" \
	    "--seeds 1..3 -- $tmp/no-such-program" "--seeds 1..3" "--seeds 1..3 --" \
	    "--jobs 0 --seeds 1..3 -- true" "--timeout -1 --seeds 1..3 -- true" \
	    "--frobnicate --seeds 1..3 -- true" "-- true" "--timeline= --seeds 1..3 -- true"; do
	# shellcheck disable=SC2086
	"$SOFTHCA" explore $args > /dev/null 2>"$tmp/err"
	rc=$?
	if [ "$rc" = 2 ] && [ -s "$tmp/err" ]; then
		pass "usage error: explore $args"
	else
		fail "explore $args: exit $rc (want 2 with a message)"
	fi
done

# ---- timeline -------------------------------------------------------------------------
sim_test=$BUILD/bin/sim/test_dma_hold
if [ ! -x "$sim_test" ]; then
	fail "$sim_test is missing: no simulator trace to draw"
else
	SOFTHCA_TRACE=1 "$sim_test" > /dev/null 2> "$tmp/trace.txt" ||
		fail "$sim_test failed"
	{
		echo "this line is not a trace line"
		echo "dev7 rx qpn=42 psn=3 op=0x0a wr=0 a=0 b=0"
		echo 'dev7 drop qpn=42 psn=4 op=0x0a wr=0 a=1 b=0 (<odd & "reason">)'
	} >> "$tmp/trace.txt"
	for out_file in "$tmp/t.svg" "$tmp/t.html"; do
		if ! "$SOFTHCA" timeline "$tmp/trace.txt" -o "$out_file" 2> "$tmp/err"; then
			fail "timeline -o $out_file failed: $(cat "$tmp/err")"
			continue
		fi
		grep -q "1 unknown lines skipped" "$tmp/err" ||
			fail "timeline did not count the unknown line: $(cat "$tmp/err")"
		if python3 - "$tmp/trace.txt" "$out_file" <<'PY'
import re, sys, xml.etree.ElementTree as ET
trace, out = sys.argv[1], sys.argv[2]
text = open(out, encoding="utf-8").read()
if out.endswith(".html"):
    assert text.lstrip().lower().startswith("<!doctype html>"), "not an HTML page"
    text = text[text.index("<svg"):text.rindex("</svg>") + 6]
root = ET.fromstring(text)
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
want_lanes, want_kinds = set(), []
line_re = re.compile(r"^(t=\d+ )?dev(\d+) (\S+) qpn=(\d+) ")
for line in open(trace):
    m = line_re.match(line)
    if m:
        want_lanes.add((int(m.group(2)), int(m.group(4))))
        want_kinds.append(m.group(3))
lanes = [(int(g.get("data-dev")), int(g.get("data-qpn")))
         for g in root.iter(ns + "g") if g.get("class") == "lane"]
assert len(lanes) == len(set(lanes)), "duplicate lanes %r" % lanes
assert set(lanes) == want_lanes, "lanes %r, want %r" % (sorted(lanes), sorted(want_lanes))
assert (7, 42) in want_lanes and len(want_lanes) >= 3, want_lanes
marks = [e for e in root.iter() if (e.get("class") or "").split()[:1] == ["mark"]]
assert len(marks) == len(want_kinds), "%d marks, %d events" % (len(marks), len(want_kinds))
got_kinds = [e.get("class").split()[1][2:] for e in marks]
assert got_kinds == want_kinds, "kinds differ from the trace's order"
for k in ("tx", "rx", "dma-write", "dma-hold", "cqe"):
    assert k in got_kinds, "no %s mark" % k
for e in marks:
    t = e.find(ns + "title")
    assert t is not None and t.text and "qpn=" in t.text, "mark without a tooltip"
legend = [t.text for t in root.iter(ns + "text")
          if t.text and any(t.text == k for k in set(want_kinds))]
assert set(legend) == set(want_kinds), "legend %r" % legend
print("lanes", sorted(lanes), "marks", len(marks))
PY
		then
			pass "timeline $out_file"
		else
			fail "timeline $out_file is not the expected picture"
		fi
	done
	"$SOFTHCA" timeline > /dev/null 2>&1; rc=$?
	[ "$rc" = 2 ] && pass "timeline without a trace: exit 2" || fail "timeline without a trace: exit $rc"
	"$SOFTHCA" timeline "$tmp/none.txt" > /dev/null 2>&1; rc=$?
	[ "$rc" = 1 ] && pass "timeline of a missing file: exit 1" || fail "timeline of a missing file: exit $rc"
fi

# ---- explore --timeline: the picture of the failing seed --------------------------------
order_2007=$BUILD/bin/usermode/order_2007
dropin=$BUILD/lib/usermode/libibverbs.so.1
addr=127.${SOFTHCA_TEST_NET:-77}.${3:-0}.1
if [ ! -x "$order_2007" ] || [ ! -e "$dropin" ]; then
	fail "$order_2007 or $dropin is missing: no verbs program to explore"
else
	pic=$tmp/failing.svg
	explore_expect "--timeline" 1 "" --seeds 1..40 --order mix --timeline "$pic" \
		-- "$SOFTHCA" run --addr "$addr" --abi 1 -- "$order_2007" 0
	seed=$(printf '%s\n' "$out" | sed -n 's/^softhca explore: seed \([0-9]*\) FAILED.*/\1/p')
	if [ -z "$seed" ]; then
		fail "--timeline: no failing seed in 1..40 (mix with ABI 1 should show stale reads)"
		echo "$out"
	elif ! printf '%s\n' "$out" | grep -q "^timeline: seed $seed replayed .*: failed again"; then
		fail "--timeline: the traced replay of seed $seed did not fail again"; echo "$out"
	elif ! printf '%s\n' "$out" | grep -qx "timeline: $pic"; then
		fail "--timeline: the picture was not reported written"; echo "$out"
		cat "$tmp/err"
	elif python3 - "$pic.trace" "$pic" "$seed" <<'PY'
import re, sys, xml.etree.ElementTree as ET
trace, pic, seed = sys.argv[1], sys.argv[2], sys.argv[3]
ns = "{http://www.w3.org/2000/svg}"
root = ET.fromstring(open(pic, encoding="utf-8").read().split("?>", 1)[1])
title = root.find(ns + "title").text
assert title.startswith("softhca timeline of seed %s, order mix:" % seed), title
# the program's QPs: those whose state the run changed (RESET -> INIT -> RTR -> RTS)
qps, lanes_in_trace = set(), set()
for line in open(trace):
    m = re.match(r"^dev(\d+) (\S+) qpn=(\d+) ", line)
    if m:
        lanes_in_trace.add((int(m.group(1)), int(m.group(3))))
        if m.group(2) == "state":
            qps.add((int(m.group(1)), int(m.group(3))))
assert len(qps) == 2, "order_2007 has two QPs, the trace shows %r" % sorted(qps)
lanes = {(int(g.get("data-dev")), int(g.get("data-qpn")))
         for g in root.iter(ns + "g") if g.get("class") == "lane"}
assert qps <= lanes, "lanes %r lack the QPs %r" % (sorted(lanes), sorted(qps))
assert lanes == lanes_in_trace, "lanes %r, trace %r" % (sorted(lanes), sorted(lanes_in_trace))
labels = {t.text for t in root.iter(ns + "text") if t.get("class") == "lane-label"}
for dev, qpn in qps:
    assert "dev%d qpn %d" % (dev, qpn) in labels, "no label for dev%d qpn %d" % (dev, qpn)
kinds = {e.get("class").split()[1] for e in root.iter() if (e.get("class") or "").startswith("mark ")}
for k in ("k-dma-cqe-first", "k-dma-hold", "k-cqe"):
    assert k in kinds, "no %s mark in the failing seed's picture" % k
print("seed", seed, "QP lanes", sorted(qps))
PY
	then
		pass "--timeline: seed $seed drawn with its QP lanes"
	else
		fail "--timeline: $pic is not the picture of seed $seed"
	fi
	# a program that writes no trace: the failing seed is still reported, the
	# picture is not written, and the reason is given
	explore_expect "--timeline without a trace" 1 7 --seeds 1..20 --timeline "$tmp/none.svg" \
		-- "$prog"
	if [ -e "$tmp/none.svg" ] || ! grep -q "wrote no trace" "$tmp/err"; then
		fail "--timeline of a program without a trace: $(cat "$tmp/err")"
	else
		pass "--timeline of a program without a trace says so"
	fi
fi

if [ "$failures" != 0 ]; then
	echo "explore.sh: $failures check(s) failed"
	exit 1
fi
echo "explore.sh: all checks passed"
