#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# tests/usermode/pyverbs.sh SOFTHCA BUILD_DIR SLOT
#
# rdma-core's own test suite as Debian ships it with python3-pyverbs
# (/usr/share/doc/rdma-core/tests, some files gzipped), run whole with the
# system python under one user-mode device:
#     softhca run --addr 127.77.SLOT.1 -- /usr/bin/python3 run_tests.py -v
# The suite runs its traffic tests inside that one process (both ends on sh0).
# Pass/skip/fail/error per module, the skip reasons and every failure go to
# BUILD_DIR/usermode-results/pyverbs.txt (and to this test's output). The test
# passes only with 0 failures and 0 errors, a complete run, and no test skipped
# for a reason that means the device is unusable (see pyverbs_report.py).
source "$(dirname "$0")/lib.sh"
um_init "$@"
um_require_dropin
SRC_TESTS=/usr/share/doc/rdma-core/tests
RESULTS_DIR=$UM_BUILD/usermode-results
mkdir -p "$RESULTS_DIR"
if [[ ! -f $SRC_TESTS/run_tests.py ]]; then
	um_log "FAIL: $SRC_TESTS/run_tests.py is missing (apt-get install python3-pyverbs)"
	exit 1
fi

check_device_visible() {
	um_expect_cmd visible 60 "$UM_SOFTHCA" run --addr "$UM_SADDR" -- "$UM_PY" -c \
		'import pyverbs.device as d; print(" ".join(x.name.decode() for x in d.get_device_list()))' ||
		return 1
	if [[ $(cat "$UM_OUT") != "$UM_DEV" ]]; then
		um_why "pyverbs lists devices '$(cat "$UM_OUT")', expected exactly '$UM_DEV'"
		return 1
	fi
	um_log "    pyverbs sees: $(cat "$UM_OUT")"
}
um_check "pyverbs sees the user-mode device" check_device_visible

check_suite() {
	local dir=$UM_TMP/tests rc
	cp -r "$SRC_TESTS" "$dir" || { um_why "cannot copy $SRC_TESTS"; return 1; }
	if ! gunzip -f "$dir"/*.gz; then
		um_why "gunzip of the gzipped test files failed"
		return 1
	fi
	um_log "    $(ls "$dir"/test_*.py | wc -l) test modules in $dir"
	# run from the copy: run_tests.py loads the modules next to it
	# huge-page tests (test_odp, test_mr) run when 2 MiB pages can be reserved
	um_hugepages_reserve 16
	um_cmd suite 3000 env -C "$dir" "$UM_SOFTHCA" run --addr "$UM_SADDR" -- "$UM_PY" run_tests.py -v
	rc=$UM_RC
	um_hugepages_restore
	cat "$UM_OUT" "$UM_ERR" >"$RESULTS_DIR/pyverbs.log"
	if ! "$UM_PY" "$UM_SRC/pyverbs_report.py" "$RESULTS_DIR/pyverbs.log" "$rc" \
		"$RESULTS_DIR/pyverbs.txt" | sed 's/^/      | /'; then
		um_why "see $RESULTS_DIR/pyverbs.txt and the full log $RESULTS_DIR/pyverbs.log"
		return 1
	fi
	um_log "    results: $RESULTS_DIR/pyverbs.txt"
}
um_check "rdma-core's pyverbs suite: 0 failures, 0 errors" check_suite

um_finish
