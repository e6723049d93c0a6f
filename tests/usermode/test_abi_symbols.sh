#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# test_abi_symbols.sh OUR_LIB [REFERENCE_LIB]
#
# Checks the drop-in libibverbs.so.1 against Debian's (rdma-core 44):
#   1. every symbol Debian exports with a version - the default ones of
#      IBVERBS_1.0 .. IBVERBS_1.14 and IBVERBS_PRIVATE_34, and the non-default
#      compatibility ones (ibv_get_device_list@IBVERBS_1.0...) - is exported by
#      ours with the same version, the same default-ness and the same kind
#      (function or data);
#   2. ours exports nothing else (the engine and the host stay hidden) but the
#      entry point of softhca direct verbs, softhcadv_private_ops@@SOFTHCA_PRIVATE_1
#      (include/softhca/softhcadv_ops.h), which must be there; it has the soname
#      libibverbs.so.1 and does not itself need a libibverbs;
#   3. the libraries and programs of Debian's packages that link libibverbs
#      (libmlx5, libefa, librdmacm, ibverbs-utils, perftest) resolve every symbol
#      and version against ours (ldd -r), when installed.
# Fails listing what is missing. Reference or tools missing is a failure, never a
# skip: the check cannot be said to pass without them.

set -u

ours=${1:?usage: test_abi_symbols.sh OUR_LIB [REFERENCE_LIB]}
ref=${2:-/usr/lib/x86_64-linux-gnu/libibverbs.so.1}
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

finish() {
	echo "abi_symbols: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

for tool in nm readelf ldd; do
	if ! command -v "$tool" >/dev/null; then
		fail "$tool is not installed (binutils / libc-bin)"
		finish
	fi
done
if [ ! -f "$ours" ]; then
	fail "the drop-in $ours does not exist (build target softhca_ibverbs)"
	finish
fi
if [ ! -f "$ref" ]; then
	fail "the reference $ref does not exist (apt-get install libibverbs1)"
	finish
fi

# "KIND NAME@VER" or "KIND NAME@@VER" per versioned symbol; KIND is F (function)
# or D (data). Version-node symbols (type A) are left out.
versioned_symbols() {
	nm -D --with-symbol-versions --defined-only "$1" |
		awk '$2 != "A" && $3 ~ /@/ {
			kind = ($2 == "T" || $2 == "W" || $2 == "i") ? "F" : "D"
			print kind, $3
		}' | sort -u
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
versioned_symbols "$ref" >"$tmp/ref"
versioned_symbols "$ours" >"$tmp/ours"

nref=$(wc -l <"$tmp/ref")
if [ "$nref" -lt 150 ]; then
	fail "the reference exports only $nref versioned symbols: is $ref rdma-core's?"
	finish
fi

# 1. everything Debian has, ours has, same version, default-ness and kind
missing=$(comm -23 "$tmp/ref" "$tmp/ours")
if [ -z "$missing" ]; then
	pass "all $nref versioned symbols of $ref are exported alike"
else
	fail "symbols of $ref missing from $ours (kind name@version):"
	echo "$missing" | sed 's/^/    /'
fi

for node in IBVERBS_1.0 IBVERBS_1.1 IBVERBS_1.5 IBVERBS_1.6 IBVERBS_1.7 IBVERBS_1.8 \
	    IBVERBS_1.9 IBVERBS_1.10 IBVERBS_1.11 IBVERBS_1.12 IBVERBS_1.13 \
	    IBVERBS_1.14 IBVERBS_PRIVATE_34; do
	if nm -D --with-symbol-versions "$ours" | grep -q " A $node\$"; then
		pass "version node $node defined"
	else
		fail "version node $node not defined"
	fi
done

# 2. nothing else exported, but our own private entry point
private="F softhcadv_private_ops@@SOFTHCA_PRIVATE_1"
if grep -qx "$private" "$tmp/ours"; then
	pass "softhcadv entry point exported: ${private#F }"
else
	fail "softhcadv entry point ${private#F } not exported (libsofthcadv cannot find it)"
fi
extra=$(comm -13 "$tmp/ref" "$tmp/ours" | grep -vx "$private")
unversioned=$(nm -D --defined-only "$ours" | awk '$3 !~ /@/ && $2 != "A" { print $3 }' |
	      grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' || true)
if [ -z "$extra" ] && [ -z "$unversioned" ]; then
	pass "no symbol beyond libibverbs' is exported"
else
	fail "exported beyond libibverbs' ABI:"
	echo "$extra" "$unversioned" | tr ' ' '\n' | grep -v '^$' | sed 's/^/    /'
fi

soname=$(readelf -d "$ours" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = "libibverbs.so.1" ]; then
	pass "soname libibverbs.so.1"
else
	fail "soname is '$soname', not libibverbs.so.1"
fi
if readelf -d "$ours" | grep '(NEEDED)' | grep -q 'libibverbs'; then
	fail "$ours itself needs a libibverbs"
else
	pass "$ours does not need another libibverbs"
fi

# 3. Debian's consumers resolve against ours
libdir=$(cd "$(dirname "$ours")" && pwd)
if [ ! -e "$libdir/libibverbs.so.1" ]; then
	fail "$libdir has no libibverbs.so.1 for the loader to find"
	finish
fi
checked=0
for consumer in /usr/lib/x86_64-linux-gnu/libmlx5.so.1 /usr/lib/x86_64-linux-gnu/libefa.so.1 \
		/usr/lib/x86_64-linux-gnu/librdmacm.so.1 /usr/bin/ibv_devinfo \
		/usr/bin/ibv_rc_pingpong /usr/bin/ib_write_bw /usr/bin/ib_send_bw; do
	[ -e "$consumer" ] || continue
	checked=$((checked + 1))
	out=$(LD_LIBRARY_PATH="$libdir" ldd -r "$consumer" 2>&1)
	resolved=$(echo "$out" | sed -n 's/^[[:space:]]*libibverbs\.so\.1 => \([^ ]*\).*/\1/p')
	problems=$(echo "$out" | grep -E 'undefined symbol|not found' || true)
	if [ -n "$problems" ]; then
		fail "$consumer does not resolve against the drop-in:"
		echo "$problems" | sed 's/^/    /'
	elif [ "$(readlink -f "$resolved")" != "$(readlink -f "$libdir/libibverbs.so.1")" ]; then
		fail "$consumer loads $resolved, not the drop-in"
	else
		pass "$consumer resolves every symbol against the drop-in"
	fi
done
if [ "$checked" -eq 0 ]; then
	fail "none of libmlx5, libefa, librdmacm, ibverbs-utils, perftest is installed"
fi

finish
