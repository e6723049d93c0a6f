#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Proves that the engine (emu/core) is host-agnostic, as a kernel module needs:
#  1. every #include in emu/core/*.{c,h} and emu/host.h names either an engine
#     header ("x.h" present in emu/core, or "../host.h") or one of the freestanding
#     headers <stdint.h> <stddef.h> <stdbool.h> <stdarg.h> <limits.h>;
#  2. every emu/core/*.c compiles with -ffreestanding -nostdinc (only the
#     compiler's own headers are visible) and -Werror;
#  3. the objects link with tests/build/stub_host.c into a shared object with
#     -nostdlib -Wl,--no-undefined: a call to anything but the host ops and
#     memcpy/memset/memmove/memcmp (printf, malloc, __udivti3...) fails the link.
#
# Usage: check_freestanding.sh [SOURCE_ROOT] [WORK_DIR]
#   SOURCE_ROOT defaults to the repository holding this script; WORK_DIR (for the
#   objects) to a temporary directory removed on exit. CC defaults to gcc.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "${1:-$script_dir/../..}" && pwd)
core="$src/emu/core"
cc=${CC:-gcc}

if [[ -n "${2:-}" ]]; then
	work="$2"
	mkdir -p "$work"
	rm -f "$work"/*.o "$work"/libemu_freestanding.so
else
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi

fail() {
	echo "check_freestanding: FAIL: $*" >&2
	exit 1
}

# ---- 1. includes ---------------------------------------------------------------
allowed_system=" stdint.h stddef.h stdbool.h stdarg.h limits.h "
bad_includes=0

check_includes() {
	local file="$1" rel="${1#"$src"/}" lineno=0 line target
	while IFS= read -r line || [[ -n "$line" ]]; do
		lineno=$((lineno + 1))
		[[ "$line" =~ ^[[:space:]]*#[[:space:]]*include ]] || continue
		if [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]*)\> ]]; then
			target="${BASH_REMATCH[1]}"
			[[ "$allowed_system" == *" $target "* ]] && continue
			echo "$rel:$lineno: <$target> is not a freestanding header" \
			     "(allowed: <stdint.h> <stddef.h> <stdbool.h> <stdarg.h> <limits.h>)" >&2
		elif [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]*)\" ]]; then
			target="${BASH_REMATCH[1]}"
			if [[ "$file" == "$src/emu/host.h" ]]; then
				:   # the contract itself includes nothing of the engine
			elif [[ "$target" == "../host.h" ]]; then
				continue
			elif [[ "$target" != */* && -f "$core/$target" ]]; then
				continue
			fi
			echo "$rel:$lineno: \"$target\" is not an engine header" \
			     "(allowed: headers of emu/core and \"../host.h\")" >&2
		else
			echo "$rel:$lineno: unrecognised include: $line" >&2
		fi
		bad_includes=$((bad_includes + 1))
	done < "$file"
}

shopt -s nullglob
sources=("$core"/*.c)
headers=("$core"/*.h)
shopt -u nullglob

[[ ${#sources[@]} -gt 0 ]] || fail "no engine sources in $core"

for f in "${sources[@]}" "${headers[@]}" "$src/emu/host.h"; do
	check_includes "$f"
done
[[ $bad_includes -eq 0 ]] ||
	fail "$bad_includes include(s) the engine may not use (see above)"

# ---- 2. freestanding compile ---------------------------------------------------------
cc_include=$("$cc" -print-file-name=include)
[[ -d "$cc_include" ]] || fail "$cc -print-file-name=include gave no directory"

cflags=(-std=c11 -ffreestanding -nostdinc -isystem "$cc_include" -fno-builtin
	-Wall -Wextra -Werror -O2 -fPIC -fno-stack-protector)
# The kernel builds without FPU/SIMD registers: floating point fails here too.
case "$("$cc" -dumpmachine)" in
x86_64-*|i?86-*) cflags+=(-mgeneral-regs-only) ;;
esac

objects=()
for f in "${sources[@]}"; do
	obj="$work/$(basename "${f%.c}").o"
	"$cc" "${cflags[@]}" -c "$f" -o "$obj" ||
		fail "${f#"$src"/} does not compile freestanding (see above)"
	objects+=("$obj")
done

# The stub's own loops must stay loops, not calls to the functions they define.
"$cc" "${cflags[@]}" -fno-tree-loop-distribute-patterns -I "$src" \
	-c "$script_dir/stub_host.c" -o "$work/stub_host.o" ||
	fail "tests/build/stub_host.c does not compile (see above)"

# ---- 3. link with nothing but the stub host ---------------------------------------------
"$cc" -nostdlib -shared -Wl,--no-undefined -o "$work/libemu_freestanding.so" \
	"${objects[@]}" "$work/stub_host.o" ||
	fail "the engine needs symbols a kernel does not provide (undefined references above)"

echo "check_freestanding: OK: ${#sources[@]} engine source(s) compile freestanding" \
     "and link with only the stub host"
