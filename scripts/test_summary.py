"""Reads meson's testlog.json and prints each skip with its reason, then one closing line
"N passed, N failed, N skipped". Exits 1 if any test failed or none ran."""
import json
import sys

passed, failed, skipped = 0, 0, 0
with open(sys.argv[1], encoding="utf-8") as log:
    for line in log:
        result = json.loads(line)
        name = result["name"]
        status = result["result"]
        if status in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif status == "SKIP":
            skipped += 1
            reasons = [l for l in (result.get("stdout") or "").splitlines() if "SKIP" in l]
            print(f"skipped {name}: {reasons[-1] if reasons else 'no reason given'}")
        else:
            failed += 1
            print(f"failed  {name}: {status}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed + failed == 0 else 0)
