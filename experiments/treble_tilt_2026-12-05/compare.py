"""The report figures of demo reports side by side: ``compare.py NAME:REPORT_DIR ...``."""

import json
import sys
from pathlib import Path

for argument in sys.argv[1:]:
    name, path = argument.rsplit(":", 1)
    summary = json.loads((Path(path) / "summary.json").read_text())
    falls = sum(v["falls"] for v in summary["redraws"]["composed"].values())
    print(f"== {name} misses {summary.get('misses')} falls {falls}")
    for genre in sorted(summary["labels"]):
        h = summary["notes"][genre]["heard"]
        x = summary["labels"][genre]["generated"]
        print(
            f"  {genre:9s} F1 {h['note_f1']:.2f} frame-pc {h['frame_pitch_class_f1']:.2f} "
            f"n/s {h['notes_per_second']:.1f} keys {h['low_pitch']:.0f}-{h['high_pitch']:.0f} "
            f"flat {x['flatness']:.3f} dist {x['distance_db']:.1f} "
            f"(shape {x['shape_db']:.1f}, level {x['level_db']:+.1f})"
        )
