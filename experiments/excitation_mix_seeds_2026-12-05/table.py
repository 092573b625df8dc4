"""The experiment's table from run.sh's outputs, a Markdown row per run and gain.

    python table.py OUT
(OUT: run.sh's folder: MIX_seedN_gainG.follow.json and gap_gainG.txt)
"""
import json
import re
import sys
from pathlib import Path

out = Path(sys.argv[1])
gaps: dict[tuple[str, str, str], float] = {}
for path in out.glob("gap_gain*.txt"):
    gain = path.stem.removeprefix("gap_gain")
    for line in path.read_text().splitlines():
        name, label, *_ = line.split()
        gaps[name, label, gain] = float(re.search(r"gap\s+(-?[\d.]+) dB", line).group(1))
print("| mix | seed | gain | held-out bits | piano note F1 / frame pc F1 | guitar note F1 / frame pc F1 "
      "| line → two lines, piano / guitar |")
print("|---|---:|---:|---:|---|---|---|")
for path in sorted(out.glob("*_seed*_gain*.follow.json")):
    name, gain = re.fullmatch(r"(.+_seed\d+)_gain(.+)\.follow", path.stem).groups()
    mix, seed = name.rsplit("_seed", 1)
    result = json.loads(path.read_text())
    follow = {f["piece"].split("_")[0]: f["steered"] for f in result["following"]}
    piano, guitar = follow["cpebach"], follow["haydn"]
    print(f"| {mix} | {seed} | {gain} | {result['bits_per_sample']:.3f} "
          f"| {piano['note_f1']:.2f} / {piano['frame_pitch_class_f1']:.2f} "
          f"| {guitar['note_f1']:.2f} / {guitar['frame_pitch_class_f1']:.2f} "
          f"| {gaps.get((name, 'piano', gain), float('nan')):.1f} / "
          f"{gaps.get((name, 'guitar', gain), float('nan')):.1f} dB |")
