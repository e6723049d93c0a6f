#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Summarise a `run_tests.py -v` log of rdma-core's pyverbs tests.

    pyverbs_report.py LOG EXIT_STATUS OUT_FILE

Writes OUT_FILE: pass/skip/fail/error per test module, the skip reasons
grouped, and every failure and error with its traceback; prints the same.
Exit 0 only if unittest's own summary says OK with 0 failures and 0 errors,
the run exited 0, the per-test lines add up to the summary's count, and no
test was skipped for a reason that means the device itself is unusable
("No IB devices found", "No supported port is up", "No relevant GID found"):
such skips would let a broken device pass.
"""
import collections
import re
import sys

RESULT = re.compile(r" \.\.\. (ok|FAIL|ERROR|skipped (.*)|expected failure|unexpected success)$")
HEADER = re.compile(r"^(\w+) \(([\w.]+)\)")
BLOCK = re.compile(r"^(FAIL|ERROR): (\w+) \(([\w.]+)\)")
FIXTURES = ("setUpClass", "tearDownClass", "setUpModule", "tearDownModule")
DEVICE_BROKEN = ("No IB devices found", "No supported port is up", "No relevant GID found")


def module_of(test_id):
    # tests.test_qp.QPTest.test_x, or unittest.loader._FailedTest.test_x
    parts = test_id.split(".")
    for p in parts:
        if p.startswith("test_"):
            return p
    return parts[1] if len(parts) > 1 else test_id


def main():
    log_path, status, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(log_path, errors="replace") as f:
        lines = f.read().splitlines()

    results = {}        # test id -> (outcome, reason)
    current = None
    for line in lines:
        h = HEADER.match(line)
        if h:
            # "test_x (tests.test_qp.QPTest.test_x)"; class fixtures name the class
            name, where = h.group(1), h.group(2)
            current = where + "." + name if name in FIXTURES else where
        r = RESULT.search(line)
        if r and current:
            word = r.group(1)
            outcome = {"ok": "pass", "FAIL": "fail", "ERROR": "error",
                       "expected failure": "pass", "unexpected success": "fail"}.get(word, "skip")
            reason = r.group(2) or ""
            results[current] = (outcome, reason.strip("'\""))
            current = None

    ran = re.search(r"^Ran (\d+) tests? in", "\n".join(lines), re.M)
    final = [x for x in lines if re.match(r"^(OK|FAILED)( \(.*\))?$", x)]
    final = final[-1] if final else ""
    counts = dict(re.findall(r"(failures|errors|skipped|expected failures|unexpected successes)=(\d+)", final))
    n_fail, n_err = int(counts.get("failures", 0)), int(counts.get("errors", 0))

    # failure and error blocks with their tracebacks
    blocks, cur = [], None
    for line in lines:
        b = BLOCK.match(line)
        if b:
            cur = [f"{b.group(1)}: {b.group(3)}"]
            blocks.append(cur)
            continue
        if cur is not None:
            if line.startswith("Ran ") or re.match(r"^=+$", line):
                cur = None
                continue
            cur.append(line)
    for b in blocks:   # a test whose result line got lost still counts
        kind, tid = b[0].split(": ", 1)
        if tid not in results:
            results[tid] = ("fail" if kind == "FAIL" else "error", "")

    per_module = collections.OrderedDict()
    for tid in sorted(results):
        m = module_of(tid)
        per_module.setdefault(m, collections.Counter())[results[tid][0]] += 1
    skips = collections.Counter(r for o, r in results.values() if o == "skip")
    broken = [(tid, r) for tid, (o, r) in results.items()
              if o == "skip" and any(r.startswith(x) for x in DEVICE_BROKEN)]

    out = []
    out.append("pyverbs tests (rdma-core 44, Debian python3-pyverbs) under softhca run")
    out.append(f"run_tests.py exit status {status}; unittest: "
               f"{'Ran ' + ran.group(1) + ' tests' if ran else 'no summary (crashed or killed?)'}; "
               f"{final or 'no OK/FAILED line'}")
    out.append("")
    out.append(f"{'module':<28} {'pass':>5} {'skip':>5} {'fail':>5} {'error':>5}")
    tot = collections.Counter()
    for m, c in per_module.items():
        tot.update(c)
        out.append(f"{m:<28} {c['pass']:>5} {c['skip']:>5} {c['fail']:>5} {c['error']:>5}")
    out.append(f"{'total':<28} {tot['pass']:>5} {tot['skip']:>5} {tot['fail']:>5} {tot['error']:>5}")
    out.append("")
    if skips:
        out.append("skip reasons (count):")
        for r, n in skips.most_common():
            out.append(f"  {n:>4}  {r}")
        out.append("")
    if blocks:
        out.append("failures and errors:")
        for b in blocks:
            out.extend("  " + x for x in b)
        out.append("")
    # a test that never printed its result: where the run stopped (a hang)
    if not ran:
        started = [HEADER.match(x) for x in lines if HEADER.match(x)]
        if started:
            out.append(f"the last test started: {started[-1].group(2)}")

    problems = []
    if status != 0:
        problems.append(f"run_tests.py exited {status}")
    if not ran or not final:
        problems.append("unittest printed no summary: the run did not finish")
    if n_fail or n_err:
        problems.append(f"{n_fail} failures and {n_err} errors")
    # unittest's count leaves out class fixtures (a skipped or failed setUpClass)
    per_test = sum(1 for tid in results if tid.rsplit(".", 1)[-1] not in FIXTURES)
    if ran and per_test != int(ran.group(1)):
        problems.append(f"the log has {per_test} per-test results for {ran.group(1)} tests ran "
                        "(unparsed lines: see the log)")
    if broken:
        problems.append(f"{len(broken)} tests skipped because the device looks unusable "
                        f"(e.g. {broken[0][0]}: {broken[0][1]})")
    out.append("verdict: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
    text = "\n".join(out) + "\n"
    with open(out_path, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
