"""The table of README.md from the *.jsonl files here: python summary.py *.jsonl"""

import json
import statistics
import sys
from pathlib import Path

LABELS = ("ambient", "classical", "guitar", "piano")
for name in sys.argv[1:]:
    rows = [json.loads(line) for line in Path(name).read_text().splitlines()]
    flat = " / ".join(
        f"{statistics.mean(r['flatness'] for r in rows if r['label'] == k):.3f}" for k in LABELS
    )
    firsts = [r["first_chunk_s"] for r in rows]
    totals = [r["total_s"] for r in rows]
    print(
        f"| {name} | {len(rows)} | {sum(r['falls'] for r in rows)} | "
        f"{max(r['noise_share'] for r in rows):.2f} | {flat} | "
        f"{min(firsts):.1f}-{max(firsts):.1f} | {min(totals):.1f}-{max(totals):.1f} |"
    )
