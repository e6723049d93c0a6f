# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/lib.sh - shared by the user-mode test scripts, which run real
# verbs clients (ibverbs-utils, perftest, pyverbs) under `softhca run`.
#
# A script is called by ctest as
#     bash tests/usermode/NAME.sh SOFTHCA BUILD_DIR SLOT [ARGS...]
# SOFTHCA is the build-tree softhca command, BUILD_DIR the build directory (the
# drop-in is BUILD_DIR/lib/usermode/libibverbs.so.1), SLOT a small number unique
# per registered test: it picks the test's addresses (127.77.SLOT.1 server side,
# 127.77.SLOT.2 client side; 10.77.SLOT.x in network namespaces) and its TCP
# ports, so tests that ctest runs in parallel never collide.
#
# A script is a list of checks:
#     um_init "$@"
#     um_require_dropin
#     um_check "ibv_devices lists sh0" check_devices
#     um_finish
# A check is a shell function returning 0 (pass) or not (fail); it explains a
# failure with um_why. Every command a check runs goes through um_cmd or
# um_pair, which print the command, enforce a timeout and keep its output in
# UM_TMP. um_finish prints a summary and exits 1 if any check failed or no
# check ran.

set -u
set -o pipefail

UM_PY=/usr/bin/python3          # the system python: pyverbs is installed for it
UM_DEV=sh0
# Line-buffered stdout for the clients: a run killed by its timeout still shows
# how far it got (its "local address" lines), and a script can read a live
# server's output.
UM_LB=(stdbuf -oL)
UM_CHECKS_PASSED=0
UM_CHECKS_FAILED=0
UM_FAILED_NAMES=()
UM_GAPS=()
UM_BG_PIDS=()
UM_NETNS=()
UM_TCP_NEXT=0
UM_WHY=""

um_log() { printf '%s\n' "$*"; }

# ---- setup and teardown --------------------------------------------------------------

um_init() {
	if [[ $# -lt 3 ]]; then
		echo "usage: $0 SOFTHCA BUILD_DIR SLOT [ARGS...]" >&2
		exit 2
	fi
	UM_SOFTHCA=$1
	UM_BUILD=$2
	UM_SLOT=$3
	shift 3
	UM_ARGS=("$@")
	UM_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	UM_NAME=$(basename "$0" .sh)${UM_ARGS[0]:+_${UM_ARGS[0]}}
	if ! [[ $UM_SLOT =~ ^[0-9]+$ ]] || ((UM_SLOT < 1 || UM_SLOT > 250)); then
		echo "$UM_NAME: SLOT must be 1..250, not '$UM_SLOT'" >&2
		exit 2
	fi
	# SOFTHCA_TEST_NET (default 77): the second octet of the test addresses, so
	# two checkouts can run their user-mode tests at the same time
	UM_NET=${SOFTHCA_TEST_NET:-77}
	if ! [[ $UM_NET =~ ^[0-9]+$ ]] || ((UM_NET < 1 || UM_NET > 254)); then
		echo "$UM_NAME: SOFTHCA_TEST_NET must be 1..254, not '$UM_NET'" >&2
		exit 2
	fi
	UM_SADDR=127.$UM_NET.$UM_SLOT.1
	UM_CADDR=127.$UM_NET.$UM_SLOT.2
	UM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/softhca-usermode-$UM_NAME.XXXXXX")
	trap um_cleanup EXIT
	trap 'um_log "$UM_NAME: interrupted"; exit 130' INT TERM
	um_log "== $UM_NAME: softhca=$UM_SOFTHCA build=$UM_BUILD slot=$UM_SLOT logs=$UM_TMP"
	if [[ ! -x $UM_SOFTHCA ]]; then
		um_log "FAIL: $UM_SOFTHCA is not an executable (build the softhca target)"
		exit 1
	fi
}

um_cleanup() {
	local pid ns
	for pid in "${UM_BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for ns in "${UM_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	# logs of a failed run stay for the developer; a clean run leaves nothing
	if [[ ${UM_KEEP_LOGS:-0} != 1 && $UM_CHECKS_FAILED -eq 0 ]]; then
		rm -rf "$UM_TMP"
	fi
}

# The drop-in must exist: every check would fail in a confusing way without it.
um_require_dropin() {
	local lib=$UM_BUILD/lib/usermode/libibverbs.so.1
	if [[ ! -e $lib ]]; then
		um_log "FAIL: the user-mode drop-in $lib does not exist:"
		um_log "      build it (cmake --build $UM_BUILD --target softhca_ibverbs)"
		exit 1
	fi
}

# um_require_cmd CMD PACKAGE: a client that is not installed is a failure, never a skip.
um_require_cmd() {
	if ! command -v "$1" >/dev/null 2>&1; then
		um_log "FAIL: $1 is not installed (apt-get install $2, or run ci/install-deps.sh)"
		exit 1
	fi
}

# um_hugepages_reserve N: as root, make sure at least N default-size (2 MiB) huge
# pages are reserved, for tests that register huge-page memory (pyverbs'
# test_odp_rc_huge_*); um_hugepages_restore gives them back. UM_HUGE_OK=1 when
# N pages are there, 0 otherwise (not root: the caller may allow the skip).
UM_HUGE_OLD=''
UM_HUGE_OK=0
um_hugepages_reserve() {
	local want=$1 nr=/proc/sys/vm/nr_hugepages
	UM_HUGE_OK=0
	[[ -r $nr ]] || return 0
	if [[ -w $nr ]] && (($(cat "$nr") < want)); then
		UM_HUGE_OLD=$(cat "$nr")
		echo "$want" >"$nr" 2>/dev/null &&
			um_log "    reserved $want huge pages for the run (were $UM_HUGE_OLD)"
	fi
	(($(cat "$nr") >= want)) && UM_HUGE_OK=1
	return 0
}
um_hugepages_restore() {
	if [[ -n $UM_HUGE_OLD ]]; then
		echo "$UM_HUGE_OLD" >/proc/sys/vm/nr_hugepages 2>/dev/null
		UM_HUGE_OLD=''
	fi
}

# um_tcp_port: UM_PORT = the next TCP port for a client/server exchange, unique
# to this test's slot (not "$(...)": the counter must live in this shell).
um_tcp_port() {
	local port
	while :; do
		port=$(( (UM_NET == 77 ? 20000 : 40000) + UM_SLOT * 64 + UM_TCP_NEXT % 64))
		UM_TCP_NEXT=$((UM_TCP_NEXT + 1))
		# skip one still held by something else (a TIME_WAIT does not matter)
		if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
			UM_PORT=$port
			return
		fi
	done
}

# ---- checks ------------------------------------------------------------------------------

# um_why TEXT: the reason a check fails (printed by um_check).
um_why() {
	UM_WHY+="    why: $*"$'\n'
}

# um_gap TEXT: something the test should check but cannot yet; listed by um_finish.
um_gap() {
	UM_GAPS+=("$*")
	um_log "    GAP (not checked): $*"
}

# um_check NAME FUNCTION [ARGS...]
um_check() {
	local name=$1 start end rc
	shift
	UM_WHY=""
	um_log ""
	um_log "--- CHECK: $name"
	start=$(date +%s.%N)
	"$@"
	rc=$?
	end=$(date +%s.%N)
	if [[ $rc -eq 0 ]]; then
		UM_CHECKS_PASSED=$((UM_CHECKS_PASSED + 1))
		um_log "--- PASS: $name ($(um_secs "$start" "$end") s)"
	else
		UM_CHECKS_FAILED=$((UM_CHECKS_FAILED + 1))
		UM_FAILED_NAMES+=("$name")
		[[ -n $UM_WHY ]] || um_why "the check returned $rc"
		printf '%s' "$UM_WHY"
		um_log "--- FAIL: $name ($(um_secs "$start" "$end") s)"
	fi
	return 0
}

um_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

um_finish() {
	local n
	um_log ""
	um_log "== $UM_NAME: $UM_CHECKS_PASSED passed, $UM_CHECKS_FAILED failed, ${#UM_GAPS[@]} not checked"
	for n in "${UM_FAILED_NAMES[@]}"; do
		um_log "   FAILED: $n"
	done
	for n in "${UM_GAPS[@]}"; do
		um_log "   NOT CHECKED: $n"
	done
	if ((UM_CHECKS_FAILED > 0)); then
		um_log "   logs kept in $UM_TMP"
		exit 1
	fi
	if ((UM_CHECKS_PASSED == 0)); then
		um_log "   no check ran: that is a failure"
		exit 1
	fi
	exit 0
}

# ---- running commands ----------------------------------------------------------------------

um_quote() {
	local out="" a
	for a in "$@"; do
		out+="$(printf '%q' "$a") "
	done
	printf '%s' "${out% }"
}

# um_tail LABEL FILE: the end of a log, indented, for a failure report.
um_tail() {
	[[ -s $2 ]] || { um_log "    ($1: empty)"; return; }
	um_log "    ($1: last 25 lines of $2)"
	tail -n 25 "$2" | sed 's/^/      | /'
}

um_exit_text() {
	case $1 in
	0) echo "exit 0" ;;
	124) echo "timed out after $2 s (killed)" ;;
	137) echo "killed (SIGKILL after the timeout)" ;;
	*) if (($1 > 128)); then echo "killed by signal $(($1 - 128))"; else echo "exit $1"; fi ;;
	esac
}

# um_cmd TAG TIMEOUT CMD...: run one command; its output is in $UM_TMP/TAG.out
# and .err (UM_OUT, UM_ERR). Returns the command's status.
um_cmd() {
	local tag=$1 t=$2 rc
	shift 2
	UM_OUT=$UM_TMP/$tag.out
	UM_ERR=$UM_TMP/$tag.err
	um_log "    run: $(um_quote "$@")"
	timeout -k 10 "$t" "$@" >"$UM_OUT" 2>"$UM_ERR"
	rc=$?
	UM_RC=$rc
	if [[ $rc -ne 0 ]]; then
		um_log "    -> $(um_exit_text $rc "$t")"
	fi
	return $rc
}

# um_expect_cmd TAG TIMEOUT CMD...: um_cmd, and a non-zero exit fails the check
# with the command's output.
um_expect_cmd() {
	local tag=$1 t=$2
	if um_cmd "$@"; then
		return 0
	fi
	um_why "$(um_quote "${@:3}") ended with $(um_exit_text "$UM_RC" "$t")"
	um_tail stdout "$UM_OUT"
	um_tail stderr "$UM_ERR"
	return 1
}

# um_wait_listen PORT PID [NETNS]: wait until a TCP socket listens on PORT (in
# NETNS), or the process PID is gone, or 60 s passed.
um_wait_listen() {
	local port=$1 pid=$2 ns=${3:-} i
	local ssc=(ss -Hltn "sport = :$port")
	[[ -z $ns ]] || ssc=(ip netns exec "$ns" "${ssc[@]}")
	for ((i = 0; i < 600; i++)); do
		if "${ssc[@]}" 2>/dev/null | grep -q .; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# um_pair TAG TIMEOUT PORT: run the server command UM_SERVER (array) in the
# background, wait until it listens on TCP PORT (in namespace UM_SERVER_NS if
# set), then run the client command UM_CLIENT, and wait for both. Outputs:
# $UM_TMP/TAG.server.{out,err} and TAG.client.{out,err} (UM_SOUT, UM_SERR,
# UM_COUT, UM_CERR). Fails the check, with both outputs, unless both exit 0.
um_pair() {
	local tag=$1 t=$2 port=$3 spid cpid src crc first other rc
	UM_SERVER_RC=-1   # -1: did not run or did not finish
	UM_CLIENT_RC=-1
	UM_SOUT=$UM_TMP/$tag.server.out
	UM_SERR=$UM_TMP/$tag.server.err
	UM_COUT=$UM_TMP/$tag.client.out
	UM_CERR=$UM_TMP/$tag.client.err
	um_log "    server: $(um_quote "${UM_SERVER[@]}")"
	um_log "    client: $(um_quote "${UM_CLIENT[@]}")"
	timeout -k 10 "$t" "${UM_SERVER[@]}" >"$UM_SOUT" 2>"$UM_SERR" &
	spid=$!
	UM_BG_PIDS+=("$spid")
	if ! um_wait_listen "$port" "$spid" "${UM_SERVER_NS:-}"; then
		kill "$spid" 2>/dev/null
		wait "$spid"
		src=$?
		um_bg_forget "$spid"
		UM_SERVER_RC=$src
		um_why "the server never listened on TCP port $port ($(um_exit_text $src "$t"))"
		um_tail "server stdout" "$UM_SOUT"
		um_tail "server stderr" "$UM_SERR"
		return 1
	fi
	timeout -k 10 "$t" "${UM_CLIENT[@]}" >"$UM_COUT" 2>"$UM_CERR" &
	cpid=$!
	UM_BG_PIDS+=("$cpid")
	# whichever ends first: if it failed, the other usually waits forever for
	# it (pingpong has no timeout of its own), so it gets a short grace
	wait -n -p first "$spid" "$cpid"
	rc=$?
	if [[ $first == "$spid" ]]; then src=$rc other=$cpid; else crc=$rc other=$spid; fi
	um_bg_forget "$first"
	if [[ $rc -ne 0 ]] && ! um_wait_pid "$other" 15; then
		um_log "    the other side still runs 15 s after this one failed: stopping it"
		kill "$other" 2>/dev/null
	fi
	wait "$other"
	rc=$?
	if [[ $other == "$spid" ]]; then src=$rc; else crc=$rc; fi
	um_bg_forget "$other"
	UM_SERVER_RC=$src
	UM_CLIENT_RC=$crc
	if [[ $src -eq 0 && $crc -eq 0 ]]; then
		return 0
	fi
	[[ $src -eq 0 ]] || um_why "server: $(um_exit_text $src "$t")"
	[[ $crc -eq 0 ]] || um_why "client: $(um_exit_text $crc "$t")"
	um_tail "server stdout" "$UM_SOUT"
	um_tail "server stderr" "$UM_SERR"
	um_tail "client stdout" "$UM_COUT"
	um_tail "client stderr" "$UM_CERR"
	return 1
}

# um_bg_forget PID: PID was waited for; cleanup must not signal a reused PID.
um_bg_forget() {
	local keep=() p
	for p in "${UM_BG_PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	UM_BG_PIDS=("${keep[@]}")
}

# um_wait_pid PID SECONDS: 0 once PID has exited, 1 if it still runs after SECONDS.
um_wait_pid() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# um_no_match REGEX FILE...: fail (with the lines) if any file has a line matching.
um_no_match() {
	local re=$1 f bad=0
	shift
	for f in "$@"; do
		[[ -e $f ]] || continue   # a side that never ran: already a failure
		if grep -Eq -- "$re" "$f"; then
			um_why "$f has lines matching /$re/:"
			grep -E -- "$re" "$f" | head -n 5 | sed 's/^/      | /'
			bad=1
		fi
	done
	return "$bad"
}

# um_match REGEX FILE: fail unless FILE has a line matching REGEX.
um_match() {
	if grep -Eq -- "$1" "$2"; then
		return 0
	fi
	um_why "no line of $2 matches /$1/"
	um_tail "$(basename "$2")" "$2"
	return 1
}

# ---- network namespaces ------------------------------------------------------------------------

# um_netns_pair: two namespaces joined by a veth pair. Sets UM_NS_A/UM_NS_B,
# UM_VETH_A/UM_VETH_B (the interface inside each) and UM_NS_ADDR_A/B
# (10.77.SLOT.1 and .2). Returns 1, with the reason, when namespaces cannot be
# made (not root, no CAP_NET_ADMIN, no veth): the caller must fail then.
um_netns_pair() {
	local tag=sh$UM_SLOT-$$ old pid
	# namespaces left by an earlier run of this test that was killed (a ctest
	# timeout kills without cleanup): its process is gone
	for old in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^softhca-sh$UM_SLOT-"); do
		pid=${old#"softhca-sh$UM_SLOT-"}
		pid=${pid%-[ab]}
		if ! kill -0 "$pid" 2>/dev/null; then
			um_log "    removing the stale namespace $old"
			ip netns del "$old" 2>/dev/null
		fi
	done
	UM_NS_A=softhca-$tag-a
	UM_NS_B=softhca-$tag-b
	UM_VETH_A=shv$$a
	UM_VETH_B=shv$$b
	UM_NS_ADDR_A=10.$UM_NET.$UM_SLOT.1
	UM_NS_ADDR_B=10.$UM_NET.$UM_SLOT.2
	local steps=(
		"ip netns add $UM_NS_A"
		"ip netns add $UM_NS_B"
		"ip link add $UM_VETH_A type veth peer name $UM_VETH_B"
		"ip link set $UM_VETH_A netns $UM_NS_A"
		"ip link set $UM_VETH_B netns $UM_NS_B"
		"ip -n $UM_NS_A addr add $UM_NS_ADDR_A/24 dev $UM_VETH_A"
		"ip -n $UM_NS_B addr add $UM_NS_ADDR_B/24 dev $UM_VETH_B"
		"ip -n $UM_NS_A link set lo up"
		"ip -n $UM_NS_B link set lo up"
		"ip -n $UM_NS_A link set $UM_VETH_A up"
		"ip -n $UM_NS_B link set $UM_VETH_B up"
	)
	local s out
	for s in "${steps[@]}"; do
		um_log "    setup: $s"
		if ! out=$($s 2>&1); then
			um_why "'$s' failed: $out"
			um_why "network namespaces need root or CAP_SYS_ADMIN + CAP_NET_ADMIN"
			# whatever was made goes away at exit
			ip netns list 2>/dev/null | grep -q "^$UM_NS_A" && UM_NETNS+=("$UM_NS_A")
			ip netns list 2>/dev/null | grep -q "^$UM_NS_B" && UM_NETNS+=("$UM_NS_B")
			ip link del "$UM_VETH_A" 2>/dev/null
			return 1
		fi
		case $s in
		"ip netns add $UM_NS_A") UM_NETNS+=("$UM_NS_A") ;;
		"ip netns add $UM_NS_B") UM_NETNS+=("$UM_NS_B") ;;
		esac
	done
	# IPv6 DAD can hold a fresh veth in "tentative" state; IPv4 is ready at once,
	# but make sure the link is really up (carrier) before the first packet.
	local i
	for ((i = 0; i < 50; i++)); do
		if ip -n "$UM_NS_A" link show "$UM_VETH_A" | grep -q 'state UP' &&
			ip -n "$UM_NS_B" link show "$UM_VETH_B" | grep -q 'state UP'; then
			break
		fi
		sleep 0.1
	done
	# reachable: a TCP connect to a closed port is refused (RST), not timed out
	local probe
	probe=$(ip netns exec "$UM_NS_B" "$UM_PY" -c '
import socket, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect((sys.argv[1], 9))
    print("reachable")
except ConnectionRefusedError:
    print("reachable")
except OSError as e:
    print(e)' "$UM_NS_ADDR_A" 2>&1)
	if [[ $probe != reachable ]]; then
		um_why "$UM_NS_B cannot reach $UM_NS_ADDR_A over the veth pair: $probe"
		return 1
	fi
	return 0
}

# um_stat NAME FILE: the value of counter NAME in a softhca run --stats FILE.
um_stat() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# um_stats_pair TAG TIMEOUT [RUN_OPTS...] -- PROGRAM ARGS...: um_pair of PROGRAM
# on both sides under softhca run RUN_OPTS, each with --stats
# $UM_TMP/TAG.{server,client}.stats; @PORT@ in ARGS becomes a fresh TCP port
# (also left in PORT); the client gets the server's address last.
um_stats_pair() {
	local tag=$1 t=$2 extra=() args
	shift 2
	while [[ $1 != -- ]]; do extra+=("$1"); shift; done
	shift
	args=("$@")
	um_tcp_port
	PORT=$UM_PORT
	UM_SERVER=("$UM_SOFTHCA" run --addr "$UM_SADDR" "${extra[@]}"
		--stats "$UM_TMP/$tag.server.stats" -- "${UM_LB[@]}" "${args[@]/@PORT@/$PORT}")
	UM_CLIENT=("$UM_SOFTHCA" run --addr "$UM_CADDR" "${extra[@]}"
		--stats "$UM_TMP/$tag.client.stats" -- "${UM_LB[@]}" "${args[@]/@PORT@/$PORT}" "$UM_SADDR")
	um_pair "$tag" "$t" "$PORT"
}

# ---- perftest output ----------------------------------------------------------------------------

# um_perftest_rows FILE: the result rows of a perftest report, "bytes iters v1 v2 ..."
# (bw: BW peak, BW average, MsgRate; lat: t_min, t_max, t_typical, t_avg, ...).
um_perftest_rows() {
	awk '/^ *[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+/ { $1 = $1; print }' "$1"
}

# um_perftest_iters ITERS PERFTEST ARGS...: the iteration count perftest reports
# for -n ITERS: with -q N it counts all N QPs together.
um_perftest_iters() {
	local iters=$1 a prev="" qps=1
	shift
	for a in "$@"; do
		[[ $prev == -q ]] && qps=$a
		prev=$a
	done
	echo $((iters * qps))
}
