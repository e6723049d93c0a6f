#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Installs the Debian packages that building and testing softhca need.
# Idempotent: when every package is already installed it changes nothing and
# does not touch the network. Works as root (a bare Debian 12 container) and as a
# user with sudo; fails clearly otherwise.
set -euo pipefail

# The one list of packages the project needs. Add new needs here.
PACKAGES=(
	build-essential
	cmake
	pkg-config
	check            # unit tests
	libsubunit-dev   # linked by check's pkg-config file
	zlib1g-dev       # crc32 for the ICRC in userspace hosts
	libpcap-dev      # pcap captures in tests and tools
	valgrind         # the valgrind test label
	tshark           # decodes captured RoCEv2 packets in tests
	liburing-dev     # user mode: batched UDP through io_uring
	libibverbs-dev   # user mode: the public verbs.h the drop-in is built against
	ibverbs-utils    # user mode tests: ibv_devices, ibv_*_pingpong
	perftest         # user mode tests: ib_write_bw and friends
	rdmacm-utils     # librdmacm, linked by perftest
	python3-pyverbs  # user mode tests: rdma-core's own test suite
	iproute2         # user mode tests: network namespaces and veth
)

is_installed() {
	dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

missing=()
for pkg in "${PACKAGES[@]}"; do
	is_installed "$pkg" || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
	echo "install-deps: all ${#PACKAGES[@]} packages already installed"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"

as_root=()
if [[ $(id -u) -ne 0 ]]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-deps: missing packages: ${missing[*]}" >&2
		echo "install-deps: not root and sudo is not available; install them as root:" >&2
		echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	as_root=(sudo)
fi

# env: sudo resets the environment, and apt must never ask a question (CI has no
# standard input).
apt_env=(env DEBIAN_FRONTEND=noninteractive)
"${as_root[@]}" "${apt_env[@]}" apt-get -o Acquire::Retries=3 update
"${as_root[@]}" "${apt_env[@]}" apt-get -o Acquire::Retries=3 install -y \
	--no-install-recommends "${missing[@]}"

for pkg in "${missing[@]}"; do
	is_installed "$pkg" || { echo "install-deps: $pkg did not install" >&2; exit 1; }
done
echo "install-deps: done"
