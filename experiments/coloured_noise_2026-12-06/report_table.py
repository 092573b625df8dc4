"""The figures of a report's summary.json as the README's table reads them (keys heard: the
10th-90th percentile). Usage: python report_table.py REPORT/summary.json"""

import json, sys

NAMES = "C C# D D# E F F# G G# A A# B".split()


def key(p):
    p = round(p)
    return f"{NAMES[p % 12]}{p // 12 - 1}"


d = json.load(open(sys.argv[1]))
labels = sorted(d["labels"])
print("held-out", d["held_out_bits"], "steps", d["trained_steps"], "composer", d["composer"])
print("misses", d["misses"], "redraws", d["redraws"])
rows = {
    "composed flatness (recordings)": lambda g: (
        f"{d['labels'][g]['generated']['flatness']:.3f} ({d['labels'][g]['real']['flatness']:.3f})"
    ),
    "plain flatness": lambda g: f"{d['labels'][g]['plain']['flatness']:.3f}",
    "composed level dB": lambda g: f"{d['labels'][g]['generated']['level_db']:+.1f}",
    "notes a second (genre)": lambda g: (
        f"{d['notes'][g]['composed']['notes_per_second']:.2f} ({d['notes'][g]['real']['notes_per_second']:.2f})"
    ),
    "sounding at once (genre)": lambda g: (
        f"{d['notes'][g]['composed']['sounding_at_once']:.2f} ({d['notes'][g]['real']['sounding_at_once']:.2f})"
    ),
    "median length (genre)": lambda g: (
        f"{d['notes'][g]['composed']['median_length_s']:.2f} ({d['notes'][g]['real']['median_length_s']:.2f})"
    ),
    "spectrum from genre dB (plain)": lambda g: (
        f"{d['labels'][g]['generated']['distance_db']:.1f} ({d['labels'][g]['plain']['distance_db']:.1f})"
    ),
    "shape dB (plain)": lambda g: (
        f"{d['labels'][g]['generated']['shape_db']:.1f} ({d['labels'][g]['plain']['shape_db']:.1f})"
    ),
    "notes heard a second": lambda g: f"{d['notes'][g]['heard']['notes_per_second']:.2f}",
    "note F1 (chance)": lambda g: (
        f"{d['notes'][g]['heard']['note_f1']:.2f} ({d['notes'][g]['heard']['chance_note_f1']:.2f})"
    ),
    "frame pc F1 (chance)": lambda g: (
        f"{d['notes'][g]['heard']['frame_pitch_class_f1']:.2f} ({d['notes'][g]['heard']['chance_frame_pitch_class_f1']:.2f})"
    ),
    "keys heard (written)": lambda g: (
        f"{key(d['notes'][g]['heard']['low_pitch'])}-{key(d['notes'][g]['heard']['high_pitch'])} ({key(d['notes'][g]['composed']['low_pitch'])}-{key(d['notes'][g]['composed']['high_pitch'])})"
    ),
    "longest phrase (held-out)": lambda g: (
        f"{d['notes'][g]['composed']['longest_shared_phrase']} ({d['notes'][g]['held_out']['longest_shared_phrase']})"
    ),
}
print("| figure | " + " | ".join(labels) + " |")
for name, f in rows.items():
    print(f"| {name} | " + " | ".join(f(g) for g in labels) + " |")
