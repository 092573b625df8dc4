"""The demo report's figures at several excitation gains, side by side, as Markdown rows.

    python compare.py NAME=REPORT_DIR [NAME=REPORT_DIR ...]
(each REPORT_DIR written by `wavenet-music report RUN --data DATA --clips 3 --seconds 30`
with that gain as the default; the composed pieces' notes are the same in every one)
"""
import json
import sys

from wavenet_music.notes.statistics import pitch_name

reports = dict(arg.split("=", 1) for arg in sys.argv[1:])
summaries = {name: json.load(open(f"{path}/summary.json")) for name, path in reports.items()}
first = next(iter(summaries.values()))
for label in first["notes"]:
    for name, s in summaries.items():
        heard = s["notes"][label]["heard"]
        written = s["notes"][label]["composed"]
        composed = s["labels"][label]["generated"]
        keys = f"{pitch_name(heard['low_pitch'])}–{pitch_name(heard['high_pitch'])}"
        notes_keys = f"{pitch_name(written['low_pitch'])}–{pitch_name(written['high_pitch'])}"
        print(
            f"| {label} | {name} | {heard['note_f1']:.2f} ({heard['chance_note_f1']:.2f}) "
            f"| {heard['frame_pitch_class_f1']:.2f} ({heard['chance_frame_pitch_class_f1']:.2f}) "
            f"| {heard['notes_per_second']:.1f} / {written['notes_per_second']:.1f} "
            f"| {keys} ({notes_keys}) | {composed['flatness']:.3f} "
            f"| {composed['distance_db']:.1f} dB ({composed['shape_db']:.1f}, "
            f"{composed['level_db']:+.1f}) |"
        )
for name, s in summaries.items():
    falls = sum(c["falls"] for c in s["redraws"]["composed"].values())
    print(f"{name}: misses {s['misses'] or 'none'}; composed falls into noise drawn again {falls}")
