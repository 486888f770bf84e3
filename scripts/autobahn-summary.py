#!/usr/bin/env python3
"""Summarise an Autobahn TestSuite report (index.json) and gate on it.

Usage: autobahn-summary.py OUTDIR [--agent rocws] [--expected FILE]
                           [--excluded '12.*,13.*'] [--excluded-reason TEXT]

Exit status is non-zero when index.json is missing/empty, when the agent is
absent, when any expected case is missing from the report, or when any case
fails: behavior not in {OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED}
(i.e. FAILED and anything unknown), behaviorClose in {FAILED, UNCLEAN} or
unknown, or UNIMPLEMENTED outside the excluded patterns.
Non-blocking but listed: behavior NON-STRICT, behaviorClose WRONG CODE
(non-strict close code) and FAILED BY CLIENT (client mode only).

With --baseline FILE (a committed JSON map case -> [behavior, behaviorClose]),
any case whose result differs from the baseline also fails, so a slip from OK
to NON-STRICT is caught; --write-baseline FILE records the current results.
"""
import argparse
import collections
import json
import os
import re
import sys

PASS_BEHAVIOR = {"OK", "NON-STRICT", "INFORMATIONAL"}
PASS_CLOSE = {"OK", "INFORMATIONAL", "WRONG CODE", "FAILED BY CLIENT"}
ORDER = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]


def dur_ms(c):
    # wstest reports a bogus epoch-sized duration when the handshake failed
    d = c.get("duration") or 0
    return d if 0 <= d < 86400000 else 0


def case_key(cid):
    return tuple(int(x) for x in cid.split("."))


def pattern_re(p):
    # Same semantics as wstest's CaseSet: '.'->'\.', '*'->'.*', anchored.
    return re.compile("^" + re.escape(p).replace(r"\*", ".*") + "$")


def fmt_ids(ids, per_line=12):
    ids = sorted(ids, key=case_key)
    return "\n".join("    " + " ".join(ids[i:i + per_line])
                     for i in range(0, len(ids), per_line))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--agent", default="rocws")
    ap.add_argument("--expected", help="JSON list of case ids that must be present")
    ap.add_argument("--excluded", default="12.*,13.*")
    ap.add_argument("--excluded-reason", default="permessage-deflate not implemented")
    ap.add_argument("--baseline", help="committed per-case results to compare with")
    ap.add_argument("--write-baseline", help="write the per-case results here")
    a = ap.parse_args()

    excluded = [p.strip() for p in a.excluded.split(",") if p.strip()]
    excl_res = [pattern_re(p) for p in excluded]
    is_excluded = lambda cid: any(r.match(cid) for r in excl_res)

    index = os.path.join(a.outdir, "index.json")
    if not os.path.isfile(index):
        print("autobahn: FAIL: %s not found (wstest produced no report)" % index)
        return 2
    with open(index) as f:
        data = json.load(f)
    if a.agent not in data:
        print("autobahn: FAIL: agent %r not in %s (agents: %s)"
              % (a.agent, index, ", ".join(sorted(data)) or "none"))
        return 2
    cases = data[a.agent]
    if not cases:
        print("autobahn: FAIL: zero cases in %s for agent %r" % (index, a.agent))
        return 2

    beh = collections.Counter(c["behavior"] for c in cases.values())
    clo = collections.Counter(c["behaviorClose"] for c in cases.values())
    failed, unimpl, unimpl_excl, nonstrict, close_nonstrict = [], [], [], [], []
    for cid, c in cases.items():
        b, bc = c["behavior"], c["behaviorClose"]
        bad = False
        if b == "UNIMPLEMENTED":
            (unimpl_excl if is_excluded(cid) else unimpl).append(cid)
        elif b not in PASS_BEHAVIOR:
            bad = True
        if bc not in PASS_CLOSE and not (b == "UNIMPLEMENTED" and bc == "UNIMPLEMENTED"):
            bad = True
        if bad:
            failed.append(cid)
        if b == "NON-STRICT":
            nonstrict.append(cid)
        if bc in ("WRONG CODE", "FAILED BY CLIENT"):
            close_nonstrict.append(cid)

    missing = []
    if a.expected:
        with open(a.expected) as f:
            expected = json.load(f)
        missing = sorted(set(expected) - set(cases), key=case_key)

    current = {cid: [c["behavior"], c["behaviorClose"]] for cid, c in cases.items()}
    if a.write_baseline:
        rows = ["  %s: %s" % (json.dumps(cid), json.dumps(current[cid]))
                for cid in sorted(current, key=case_key)]
        with open(a.write_baseline, "w") as f:
            f.write("{\n" + ",\n".join(rows) + "\n}\n")
    changed = []
    if a.baseline:
        with open(a.baseline) as f:
            baseline = json.load(f)
        changed = sorted((cid for cid in current if cid in baseline and current[cid] != baseline[cid]),
                         key=case_key)

    # timing per top-level section
    sec_ms = collections.Counter()
    sec_n = collections.Counter()
    for cid, c in cases.items():
        s = cid.split(".")[0]
        sec_ms[s] += dur_ms(c)
        sec_n[s] += 1
    total_ms = sum(sec_ms.values())

    print("== Autobahn summary: agent %s, %d cases, report %s" % (a.agent, len(cases), index))
    print("behavior:      " + ", ".join("%s=%d" % (k, beh[k]) for k in ORDER + sorted(set(beh) - set(ORDER))))
    print("behaviorClose: " + ", ".join("%s=%d" % (k, v) for k, v in sorted(clo.items())))
    print("excluded: %s (%s)" % (" ".join(excluded), a.excluded_reason) if excluded else "excluded: none")
    print("case time per section (s): " + ", ".join(
        "%s:%.1f/%d" % (s, sec_ms[s] / 1000.0, sec_n[s]) for s in sorted(sec_ms, key=int))
        + "  (total %.1fs)" % (total_ms / 1000.0))
    slow = sorted(cases.items(), key=lambda kv: -dur_ms(kv[1]))[:5]
    print("slowest: " + ", ".join("%s=%.1fs" % (k, dur_ms(v) / 1000.0) for k, v in slow))
    if nonstrict:
        print("NON-STRICT (%d):\n%s" % (len(nonstrict), fmt_ids(nonstrict)))
    if close_nonstrict:
        print("close WRONG CODE / FAILED BY CLIENT (%d, not blocking):\n%s"
              % (len(close_nonstrict), fmt_ids(close_nonstrict)))
    if unimpl_excl:
        print("UNIMPLEMENTED in excluded sections (%d, not blocking)" % len(unimpl_excl))
    if unimpl:
        print("UNIMPLEMENTED (%d):\n%s" % (len(unimpl), fmt_ids(unimpl)))
    if failed:
        print("FAILED (%d):" % len(failed))
        for cid in sorted(failed, key=case_key):
            c = cases[cid]
            print("    %-10s behavior=%s close=%s remoteCloseCode=%s  %s"
                  % (cid, c["behavior"], c["behaviorClose"], c.get("remoteCloseCode"),
                     os.path.join(a.outdir, c.get("reportfile", ""))))
    if missing:
        print("MISSING from report (%d, peer died or connection refused?):\n%s"
              % (len(missing), fmt_ids(missing)))

    if changed:
        print("DIFFERENT from the committed baseline %s (%d):" % (a.baseline, len(changed)))
        for cid in changed:
            print("    %-10s now %s / %s, baseline %s / %s" % ((cid,) + tuple(current[cid]) + tuple(baseline[cid])))
    elif a.baseline:
        print("every case matches the committed baseline %s" % a.baseline)

    bad = set(failed) | set(unimpl) | set(changed)
    n_bad = len(bad) + len(missing)
    n_ok = len(cases) - len(bad)
    print("autobahn: %d passed, %d failed" % (n_ok, n_bad))
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())
