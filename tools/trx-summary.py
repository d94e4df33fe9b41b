#!/usr/bin/env python3
"""Adds up the .trx files that `dotnet test --logger trx` wrote and prints one closing line:
'N passed, N failed, N skipped', after the name of every failed test and the reason of every skipped one.
Exit code 1 when a test failed or no test ran at all."""
import glob
import os
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
folder = sys.argv[1] if len(sys.argv) > 1 else "TestResults"
passed = failed = skipped = 0
failures, skips = [], []
for trx in sorted(glob.glob(os.path.join(folder, "**", "*.trx"), recursive=True)):
    root = ET.parse(trx).getroot()
    for r in root.iterfind(".//t:UnitTestResult", NS):
        outcome = r.get("outcome")
        name = r.get("testName")
        if outcome == "Passed":
            passed += 1
        elif outcome == "NotExecuted":
            skipped += 1
            msg = r.find(".//t:Output/t:ErrorInfo/t:Message", NS)
            skips.append(f"{name}: {msg.text.strip() if msg is not None and msg.text else 'skipped'}")
        else:
            failed += 1
            failures.append(name)
for s in skips:
    print(f"skipped: {s}")
for f in failures:
    print(f"FAILED: {f}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
