#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Installs the dependencies, builds the softhca command and runs its demo: two
# simulated HCAs on a lossy virtual wire doing every RC operation, then a
# summary. Extra arguments go to `softhca demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -f tools/softhca.c ]]; then
	echo "demo: tools/softhca.c does not exist yet: there is no softhca command to run" >&2
	exit 1
fi

bash ci/install-deps.sh
cmake -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)" --target softhca

if [[ ! -x build/bin/softhca ]]; then
	echo "demo: the build did not produce build/bin/softhca" >&2
	exit 1
fi
exec build/bin/softhca demo "$@"
