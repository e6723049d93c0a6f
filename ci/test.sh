#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# Installs the dependencies, builds with warnings as errors and runs every test
# (labels unit, sim and valgrind). Extra arguments go to ctest, for example
#   ci/test.sh -L unit          # only the unit tests
#   ci/test.sh -R freestanding  # one test
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash ci/install-deps.sh
cmake -B build -DSOFTHCA_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure --no-tests=error -j2 "$@"
