"""The rows of local.jsonl (composed) and plain.jsonl (plain WaveNet) as one table.
python table.py local.jsonl plain.jsonl"""
import json
import sys

for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        what = "plain" if r.get("plain") else "composed"
        f1 = "" if r.get("plain") else f"{r['note_f1']:.2f}"
        print(f"| {r['label']} | {what} | {r['kind']} | {r['flatness']:.4f} | "
              f"{r['shape']:.2f} | {r['level']:+.1f} | {r['centroid']:.0f} | {f1} |")
