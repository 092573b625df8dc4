"""Means over seeds of renders.txt, per model, scale and genre. Usage: python summary.py renders.txt"""

import re
import sys
from collections import defaultdict

rows = defaultdict(list)
pattern = re.compile(
    r"(.*) model: scale (\S+) +seed (\d+) (\w+) +note F1 (\S+) frame pc (\S+) notes/s (\S+) "
    r"flatness (\S+) shape (\S+) level (\S+) dB"
)
for line in open(sys.argv[1]):
    m = pattern.match(line.strip())
    model, scale, seed, genre, *figures = m.groups()
    rows[(model, genre, float(scale))].append([float(f) for f in figures])
print("| model | genre | scale | seeds | note F1 | frame pc F1 | flatness | shape dB | level dB |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for (model, genre, scale), runs in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2])):
    mean = [sum(c) / len(c) for c in zip(*runs)]
    f1, pc, _, flat, shape, level = mean
    print(
        f"| {model} | {genre} | {scale:g} | {len(runs)} | {f1:.2f} | {pc:.2f} | {flat:.3f} | "
        f"{shape:.1f} | {level:+.1f} |"
    )
