#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/run_options.sh SOFTHCA BUILD_DIR SLOT
#
# `softhca run` itself: every bad invocation exits 2 before anything runs, with
# the message that names the problem; good ones hand PROGRAM the environment
# they promise (LD_LIBRARY_PATH and SOFTHCA_*), its arguments untouched, and
# PROGRAM's exit status comes back. The drop-in is not loaded by anything here
# (the programs are sh and env), so SOFTHCA_LIBDIR points at a stand-in file
# except in the check that finds the real build-tree drop-in.
source "$(dirname "$0")/lib.sh"
um_init "$@"

FAKE_LIB=$UM_TMP/fakelib
mkdir -p "$FAKE_LIB"
: >"$FAKE_LIB/libibverbs.so.1"
export SOFTHCA_LIBDIR=$FAKE_LIB
# inherited SOFTHCA_* would change what the checks see
for v in $(env | sed -n 's/^\(SOFTHCA_[A-Z_]*\)=.*/\1/p'); do
	[[ $v == SOFTHCA_LIBDIR ]] || unset "$v"
done

# expect_error "EXPECTED STDERR REGEX" ARGS...: softhca run ARGS exits 2 with a
# matching message, and did not run the program (which would print RAN).
expect_error() {
	local re=$1
	shift
	um_cmd err 10 "${RUNNER[@]}" "$UM_SOFTHCA" run "$@"
	local rc=$UM_RC ok=0
	if [[ $rc -ne 2 ]]; then
		um_why "exit status $rc, expected 2"
		ok=1
	fi
	if ! grep -Eq -- "$re" "$UM_ERR"; then
		um_why "stderr does not match /$re/"
		ok=1
	fi
	if grep -q RAN "$UM_OUT"; then
		um_why "the program ran"
		ok=1
	fi
	if [[ $ok -ne 0 ]]; then
		um_tail stderr "$UM_ERR"
	else
		um_log "    ok: $(head -n 1 "$UM_ERR")"
	fi
	return "$ok"
}

RAN=(sh -c 'echo RAN')
RUNNER=(env)

um_check "unknown option" expect_error '^softhca run: unknown option --bogus' --bogus -- "${RAN[@]}"
um_check "unknown short option" expect_error '^softhca run: unknown option -x' -x -- "${RAN[@]}"
um_check "missing value at the end" expect_error '^softhca run: --addr needs a value' --addr
um_check "missing value before --" expect_error '^softhca run: --addr needs a value' --addr -- "${RAN[@]}"
um_check "empty value" expect_error '^softhca run: --name: empty value' --name= -- "${RAN[@]}"
um_check "flag given a value" expect_error '^softhca run: --no-progress-thread takes no value' \
	--no-progress-thread=1 -- "${RAN[@]}"
um_check "--progress-signal without the progress thread" \
	expect_error '^softhca run: --progress-signal needs the progress thread' \
	--no-progress-thread --progress-signal -- "${RAN[@]}"
um_check "bad IPv4 address" expect_error '^softhca run: --addr 1\.2\.3: not an IPv4 or IPv6 address' \
	--addr 1.2.3 -- "${RAN[@]}"
um_check "bad IPv4 address (octet)" expect_error '^softhca run: --addr 300\.1\.1\.1: not an IPv4 or IPv6 address' \
	--addr 300.1.1.1 -- "${RAN[@]}"
um_check "bad IPv6 address" expect_error '^softhca run: --addr ::g: not an IPv4 or IPv6 address' \
	--addr=::g -- "${RAN[@]}"
um_check "--addr with --netdev" expect_error '^softhca run: --addr and --netdev exclude each other' \
	--addr 127.0.0.1 --netdev lo -- "${RAN[@]}"
um_check "address not on this host" \
	expect_error '^softhca run: cannot bind 192\.0\.2\.1:4791: Cannot assign requested address' \
	--addr 192.0.2.1 -- "${RAN[@]}"

# Hold UDP ADDR:4791 (and then ADDR:5555) the way another device would.
check_addr_in_use() {
	local holder=$UM_TMP/holder.py ready=$UM_TMP/holder.ready pid ok=0
	cat >"$holder" <<-'EOF'
		import socket, sys, time
		socks = []
		for port in (4791, 5555):
		    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		    s.bind((sys.argv[1], port))
		    socks.append(s)
		open(sys.argv[2], "w").close()
		time.sleep(60)
	EOF
	"$UM_PY" "$holder" "$UM_SADDR" "$ready" &
	pid=$!
	UM_BG_PIDS+=("$pid")
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -e $ready ]] && break
		sleep 0.1
	done
	if [[ ! -e $ready ]]; then
		um_why "the helper could not bind $UM_SADDR:4791"
		return 1
	fi
	expect_error "^softhca run: cannot bind ${UM_SADDR//./\\.}:4791: Address already in use\$" \
		--addr "$UM_SADDR" -- "${RAN[@]}" || ok=1
	expect_error "^softhca run: cannot bind ${UM_SADDR//./\\.}:5555: Address already in use\$" \
		--port 5555 --addr "$UM_SADDR" -- "${RAN[@]}" || ok=1
	# the same address on another port is free
	um_cmd free 10 "$UM_SOFTHCA" run --addr "$UM_SADDR" --port 5556 -- "${RAN[@]}"
	if [[ $UM_RC -ne 0 ]] || ! grep -q RAN "$UM_OUT"; then
		um_why "--addr $UM_SADDR --port 5556 did not run the program (exit $UM_RC)"
		um_tail stderr "$UM_ERR"
		ok=1
	fi
	kill "$pid"
	wait "$pid" 2>/dev/null
	um_bg_forget "$pid"
	return "$ok"
}
um_check "address already in use" check_addr_in_use

um_check "missing netdev" expect_error '^softhca run: --netdev nosuch9: no such network interface' \
	--netdev nosuch9 -- "${RAN[@]}"
check_netdev_ok() {
	um_cmd netdev 10 "$UM_SOFTHCA" run --netdev lo --port $((47000 + UM_SLOT)) -- env
	if [[ $UM_RC -ne 0 ]] || ! grep -qx SOFTHCA_NETDEV=lo "$UM_OUT" || grep -q '^SOFTHCA_ADDR=' "$UM_OUT"; then
		um_why "--netdev lo: exit $UM_RC, expected 0 with SOFTHCA_NETDEV=lo and no SOFTHCA_ADDR"
		um_tail stderr "$UM_ERR"
		return 1
	fi
}
um_check "--netdev lo is passed on" check_netdev_ok

# An interface with no usable address: lo of a fresh network namespace.
check_netdev_no_addr() {
	local ns=softhca-runopt-$$
	if ! ip netns add "$ns" 2>"$UM_TMP/netns.err"; then
		um_gap "--netdev on an interface without an address: cannot create a network namespace ($(cat "$UM_TMP/netns.err"))"
		return 0
	fi
	UM_NETNS+=("$ns")
	local RUNNER=(ip netns exec "$ns")
	expect_error '^softhca run: --netdev lo: the interface has no IPv4 address and no global IPv6 address' \
		--netdev lo -- "${RAN[@]}"
}
um_check "--netdev on an interface without an address" check_netdev_no_addr

um_check "missing program" expect_error '^softhca run: softhca-no-such-program: not found$' \
	-- softhca-no-such-program
um_check "missing program by path" expect_error '^softhca run: /nonexistent/prog: not found$' \
	-- /nonexistent/prog
printf 'echo RAN\n' >"$UM_TMP/noexec.sh"
chmod 644 "$UM_TMP/noexec.sh"
um_check "program not executable" expect_error "^softhca run: ${UM_TMP//./\\.}/noexec\\.sh: permission denied\$" \
	-- "$UM_TMP/noexec.sh"
um_check "program is a directory" expect_error '^softhca run: /tmp: is a directory$' -- /tmp
um_check "nothing after --" expect_error '^softhca run: no program to run' --addr 127.0.0.1 --
um_check "no arguments at all" expect_error '^softhca run: no program to run'
um_check "MTU not an IB MTU" expect_error '^softhca run: --mtu 1500: an IB MTU is one of 256, 512, 1024, 2048, 4096' \
	--mtu 1500 -- "${RAN[@]}"
um_check "MTU too large" expect_error '^softhca run: --mtu 8192: an IB MTU is one of' --mtu 8192 -- "${RAN[@]}"
um_check "MTU too small" expect_error '^softhca run: --mtu 128: an IB MTU is one of' --mtu 128 -- "${RAN[@]}"
um_check "port 0" expect_error '^softhca run: --port 0: not a UDP port' --port 0 -- "${RAN[@]}"
um_check "port too large" expect_error '^softhca run: --port 65536: not a UDP port' --port 65536 -- "${RAN[@]}"
um_check "port not a number" expect_error '^softhca run: --port 47x: not a UDP port' --port 47x -- "${RAN[@]}"
um_check "negative seed" expect_error '^softhca run: --seed -1: not an unsigned 64-bit number' --seed -1 -- "${RAN[@]}"
um_check "seed too large" expect_error '^softhca run: --seed 18446744073709551616: not an unsigned 64-bit number' \
	--seed 18446744073709551616 -- "${RAN[@]}"
um_check "ABI 3" expect_error '^softhca run: --abi 3: the ABI version is 1 or 2' --abi 3 -- "${RAN[@]}"
um_check "unknown order policy" expect_error '^softhca run: --order sideways: unknown ordering policy' \
	--order sideways -- "${RAN[@]}"
um_check "bad device name" expect_error "^softhca run: --name a/b: a device name uses only" --name a/b -- "${RAN[@]}"
um_check "device name too long" expect_error '^softhca run: --name x{64}: a device name has 1 to 63 characters' \
	--name "$(printf 'x%.0s' {1..64})" -- "${RAN[@]}"
um_check "pcap in a missing directory" \
	expect_error '^softhca run: --pcap /nonexistent/x\.pcap: directory /nonexistent: No such file or directory' \
	--pcap /nonexistent/x.pcap -- "${RAN[@]}"
um_check "pcap is a directory" expect_error '^softhca run: --pcap /tmp: is a directory' --pcap /tmp -- "${RAN[@]}"
um_check "trace in a missing directory" expect_error '^softhca run: --trace /nonexistent/t: directory' \
	--trace /nonexistent/t -- "${RAN[@]}"

# Inherited variables are checked like options.
check_env_mtu() {
	SOFTHCA_MTU=7 expect_error '^softhca run: SOFTHCA_MTU=7: an IB MTU is one of' -- "${RAN[@]}"
}
check_env_both_addr() {
	SOFTHCA_ADDR=127.0.0.1 SOFTHCA_NETDEV=lo \
		expect_error '^softhca run: SOFTHCA_ADDR and SOFTHCA_NETDEV are both set' -- "${RAN[@]}"
}
check_env_addr() {
	SOFTHCA_ADDR=not-an-address \
		expect_error '^softhca run: SOFTHCA_ADDR=not-an-address: not an IPv4 or IPv6 address' -- "${RAN[@]}"
}
um_check "bad SOFTHCA_MTU in the environment" check_env_mtu
um_check "SOFTHCA_ADDR and SOFTHCA_NETDEV both inherited" check_env_both_addr
um_check "bad SOFTHCA_ADDR in the environment" check_env_addr

# ---- the drop-in's directory ----------------------------------------------------------------

check_libdir_missing() {
	mkdir -p "$UM_TMP/empty"
	SOFTHCA_LIBDIR=$UM_TMP/empty expect_error "^softhca run: SOFTHCA_LIBDIR=.*/empty: no libibverbs\.so\.1 there" \
		-- "${RAN[@]}"
}
um_check "SOFTHCA_LIBDIR without the drop-in" check_libdir_missing

# A copy of softhca in PREFIX/bin finds PREFIX/lib/usermode, then PREFIX/lib/softhca.
check_layout() {
	local prefix=$UM_TMP/$1 libsub=$2 first
	mkdir -p "$prefix/bin"
	cp "$UM_SOFTHCA" "$prefix/bin/softhca"
	if [[ -n $libsub ]]; then
		mkdir -p "$prefix/$libsub"
		: >"$prefix/$libsub/libibverbs.so.1"
	fi
	if [[ -z $libsub ]]; then
		local UM_SOFTHCA=$prefix/bin/softhca RUNNER=(env -u SOFTHCA_LIBDIR)
		expect_error "^softhca run: the user-mode libibverbs\.so\.1 is in neither ${prefix//./\\.}/lib/usermode nor ${prefix//./\\.}/lib/softhca" \
			-- "${RAN[@]}"
		return
	fi
	um_cmd layout 10 env -u SOFTHCA_LIBDIR LD_LIBRARY_PATH=/opt/old:/opt/older \
		"$prefix/bin/softhca" run -- sh -c 'echo "LDP=$LD_LIBRARY_PATH"'
	if [[ $UM_RC -ne 0 ]]; then
		um_why "exit $UM_RC"
		um_tail stderr "$UM_ERR"
		return 1
	fi
	if ! grep -qx "LDP=$(cd "$prefix/$libsub" && pwd -P):/opt/old:/opt/older" "$UM_OUT"; then
		um_why "LD_LIBRARY_PATH is not $prefix/$libsub followed by the old value"
		um_tail stdout "$UM_OUT"
		return 1
	fi
}
um_check "build-tree layout: bin/../lib/usermode" check_layout build lib/usermode
um_check "installed layout: bin/../lib/softhca" check_layout inst lib/softhca
um_check "no drop-in next to the executable" check_layout none ""

check_real_dropin() {
	local want=$UM_BUILD/lib/usermode
	if [[ ! -e $want/libibverbs.so.1 ]]; then
		um_why "the build tree has no $want/libibverbs.so.1 (build target softhca_ibverbs)"
		return 1
	fi
	um_cmd real 10 env -u SOFTHCA_LIBDIR -u LD_LIBRARY_PATH "$UM_SOFTHCA" run -- sh -c 'echo "LDP=$LD_LIBRARY_PATH"'
	if [[ $UM_RC -ne 0 ]] || ! grep -qx "LDP=$(cd "$want" && pwd -P)" "$UM_OUT"; then
		um_why "expected LDP=$want (exit $UM_RC)"
		um_tail stdout "$UM_OUT"
		um_tail stderr "$UM_ERR"
		return 1
	fi
}
um_check "the build tree's own drop-in is found" check_real_dropin

# ---- what the program gets --------------------------------------------------------------------

check_env_passed() {
	local ok=0 want
	um_cmd envp 10 bash -c "cd '$UM_TMP' && exec '$UM_SOFTHCA' run --addr '$UM_SADDR' --name foo0 \
		--port 5000 --mtu 1024 --seed 0x10 --abi 1 --pcap rel.pcap --order strict \
		--trace t.log --no-progress-thread -- env"
	if [[ $UM_RC -ne 0 ]]; then
		um_why "exit $UM_RC"
		um_tail stderr "$UM_ERR"
		return 1
	fi
	local tmp_real
	tmp_real=$(cd "$UM_TMP" && pwd -P)
	for want in "SOFTHCA_ADDR=$UM_SADDR" SOFTHCA_NAME=foo0 SOFTHCA_PORT=5000 SOFTHCA_MTU=1024 \
		SOFTHCA_SEED=0x10 SOFTHCA_ABI=1 "SOFTHCA_PCAP=$tmp_real/rel.pcap" SOFTHCA_ORDER=strict \
		"SOFTHCA_TRACE=$tmp_real/t.log" SOFTHCA_PROGRESS_THREAD=0; do
		if ! grep -qx -- "$want" "$UM_OUT"; then
			um_why "the program's environment lacks $want"
			ok=1
		fi
	done
	if grep -q '^SOFTHCA_NETDEV=' "$UM_OUT"; then
		um_why "SOFTHCA_NETDEV is set although only --addr was given"
		ok=1
	fi
	[[ $ok -eq 0 ]] || grep '^SOFTHCA_\|^LD_LIBRARY_PATH' "$UM_OUT" | sed 's/^/      | /'
	return "$ok"
}
um_check "options reach the program as SOFTHCA_* variables" check_env_passed

check_option_overrides_env() {
	um_cmd ovr 10 env SOFTHCA_NETDEV=lo SOFTHCA_MTU=512 "$UM_SOFTHCA" run --addr "$UM_SADDR" --mtu 2048 -- env
	if [[ $UM_RC -ne 0 ]]; then
		um_why "exit $UM_RC"
		um_tail stderr "$UM_ERR"
		return 1
	fi
	if grep -q '^SOFTHCA_NETDEV=' "$UM_OUT" || ! grep -qx SOFTHCA_MTU=2048 "$UM_OUT" ||
		! grep -qx "SOFTHCA_ADDR=$UM_SADDR" "$UM_OUT"; then
		um_why "expected SOFTHCA_ADDR=$UM_SADDR, SOFTHCA_MTU=2048 and no SOFTHCA_NETDEV"
		grep '^SOFTHCA_' "$UM_OUT" | sed 's/^/      | /'
		return 1
	fi
	# an inherited valid variable passes through unchanged
	um_cmd inh 10 env SOFTHCA_SEED=42 "$UM_SOFTHCA" run -- env
	if [[ $UM_RC -ne 0 ]] || ! grep -qx SOFTHCA_SEED=42 "$UM_OUT"; then
		um_why "inherited SOFTHCA_SEED=42 did not reach the program (exit $UM_RC)"
		return 1
	fi
}
um_check "an option overrides its variable" check_option_overrides_env

check_args_and_status() {
	local ok=0
	um_cmd args 10 "$UM_SOFTHCA" run -- sh -c 'printf "<%s>\n" "$0" "$@"; exit 7' zero "a b" "" '*'
	if [[ $UM_RC -ne 7 ]]; then
		um_why "exit status $UM_RC, expected the program's 7"
		ok=1
	fi
	if [[ "$(cat "$UM_OUT")" != $'<zero>\n<a b>\n<>\n<*>' ]]; then
		um_why "arguments changed on the way:"
		sed 's/^/      | /' "$UM_OUT"
		ok=1
	fi
	# without "--", the first argument that is not an option starts the program
	um_cmd noddash 10 "$UM_SOFTHCA" run --seed 1 sh -c 'echo RAN; exit 3'
	if [[ $UM_RC -ne 3 ]] || ! grep -q RAN "$UM_OUT"; then
		um_why "softhca run --seed 1 sh -c ...: exit $UM_RC, expected 3 and RAN"
		ok=1
	fi
	# a signal that kills the program is what the caller sees
	um_cmd sig 10 "$UM_SOFTHCA" run -- sh -c 'kill -TERM $$'
	if [[ $UM_RC -ne 143 ]]; then
		um_why "program killed by SIGTERM: status $UM_RC, expected 143"
		ok=1
	fi
	return "$ok"
}
um_check "arguments and exit status pass through exec" check_args_and_status

check_pid_is_exec() {
	# exec, not fork: the program has softhca run's PID
	um_cmd pid 10 bash -c 'echo "outer=$$"; exec "$0" run -- sh -c "echo inner=\$\$"' "$UM_SOFTHCA"
	local outer inner
	outer=$(sed -n 's/^outer=//p' "$UM_OUT")
	inner=$(sed -n 's/^inner=//p' "$UM_OUT")
	if [[ -z $outer || $outer != "$inner" ]]; then
		um_why "the program runs as PID $inner, softhca run was $outer: not exec'd"
		return 1
	fi
}
um_check "the program replaces softhca run (exec)" check_pid_is_exec

check_help() {
	local ok=0 o
	um_cmd help 10 "$UM_SOFTHCA" run --help
	if [[ $UM_RC -ne 0 ]]; then
		um_why "--help exits $UM_RC"
		ok=1
	fi
	for o in --addr SOFTHCA_ADDR --netdev SOFTHCA_NETDEV --name SOFTHCA_NAME --port SOFTHCA_PORT \
		--mtu SOFTHCA_MTU --seed SOFTHCA_SEED --abi SOFTHCA_ABI --pcap SOFTHCA_PCAP \
		--order SOFTHCA_ORDER --trace SOFTHCA_TRACE --no-progress-thread \
		SOFTHCA_PROGRESS_THREAD --progress-signal SOFTHCA_PROGRESS_SIGNAL SOFTHCA_LIBDIR; do
		if ! grep -q -- "$o" "$UM_OUT"; then
			um_why "--help does not mention $o"
			ok=1
		fi
	done
	if awk 'length($0) > 80 { exit 1 }' "$UM_OUT"; then :; else
		um_why "--help has lines longer than 80 columns"
		ok=1
	fi
	return "$ok"
}
um_check "--help documents every option and variable" check_help

um_finish
