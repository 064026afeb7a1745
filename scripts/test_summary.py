"""Reads meson's testlog.json files (one per build: `test_summary.py LOG [LABEL=LOG ...]`) and
prints each skip with its reason, then one closing line "N passed, N failed, N skipped" over all
of them. A TAP test (the vm suite) counts each of its cases. A LABEL names the build a log
comes from in the lines about its tests. Exits 1 if any test failed or none ran."""
import json
import re
import sys

TAP_RESULT = re.compile(r"^(not ok|ok)\b[^#]*(#\s*(SKIP|TODO)\b(.*))?", re.IGNORECASE)
TAP_PLAN = re.compile(r"^1\.\.\d+", re.MULTILINE)
TAP_SKIP_ALL = re.compile(r"^1\.\.0\s*#\s*SKIP\s*(.*)", re.IGNORECASE)

passed, failed, skipped = 0, 0, 0


def count_tap(name, result, stdout):
    """Counts a TAP test's cases; False when its output holds none."""
    global passed, failed, skipped
    cases = 0
    for line in stdout.splitlines():
        if match := TAP_SKIP_ALL.match(line):
            skipped += 1
            print(f"skipped {name}: {match.group(1) or 'no reason given'}")
            return True
        match = TAP_RESULT.match(line)
        if not match:
            continue
        cases += 1
        if match.group(3) and match.group(3).upper() == "SKIP":
            skipped += 1
            print(f"skipped {name}: {line}")
        elif match.group(1).lower() == "ok":
            passed += 1
        else:
            failed += 1
            print(f"failed  {name}: {line}")
    if cases and result not in ("OK", "EXPECTEDFAIL", "SKIP") and not failed:
        # The cases passed but the test as a whole did not (a crash after its last case).
        failed += 1
        print(f"failed  {name}: {result} after its cases")
    return cases > 0


for argument in sys.argv[1:]:
    label, _, path = argument.rpartition("=")
    with open(path, encoding="utf-8") as log:
        for line in log:
            result = json.loads(line)
            name = f"{label}:{result['name']}" if label else result["name"]
            status = result["result"]
            stdout = result.get("stdout") or ""
            # testlog.json does not record the protocol; a TAP plan line marks the vm suite.
            if TAP_PLAN.search(stdout) and count_tap(name, status, stdout):
                continue
            if status in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif status == "SKIP":
                skipped += 1
                reasons = [l for l in stdout.splitlines() if "SKIP" in l]
                print(f"skipped {name}: {reasons[-1] if reasons else 'no reason given'}")
            else:
                failed += 1
                print(f"failed  {name}: {status}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed + failed == 0 else 0)
