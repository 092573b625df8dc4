"""The page's fixed HTML: the glossary and the document around the sections, and how a
figure reads in a table cell (``number``)."""

import math


def number(fmt: str, value: float | None) -> str:
    """``value`` formatted with ``fmt``; a dash where there is none (None, NaN, inf)."""
    return "–" if value is None or not math.isfinite(value) else fmt.format(value)


# --- template ------------------------------------------------------------------------------

GLOSSARY = """<section class="glossary"><h2>How to read this page</h2><dl>
<dt>Spectrogram</dt><dd>Time runs left to right, pitch bottom to top (mel scale: spaced roughly
as we hear pitch), brightness is loudness: black −90 dB to white −10 dB re full scale, the same
scale in every picture. Notes show as horizontal lines with their overtones above them.</dd>
<dt>Bits per sample</dt><dd>How surprised the model is, on average, by each sample of real
music it did not train on. 8 bits is guessing among the 256 levels; lower is better.</dd>
<dt>RMS, peak</dt><dd>Average and highest level in dB below digital full scale (0 dBFS).</dd>
<dt>Centroid</dt><dd>The spectrum's centre of mass in Hz: the brightness of the sound.</dd>
<dt>Flatness</dt><dd>Tone against noise: near 0 for clear pitches, about 0.56 for white
noise.</dd>
<dt>Loudness spread</dt><dd>How much the level moves, in 50 ms steps (standard deviation in
dB): phrases, attacks and rests give several dB; steady noise stays near 0.</dd>
<dt>Distance to real</dt><dd>Root-mean-square difference, in dB over 80 mel bands, between the
average spectrum of a clip and that of the real excerpts. For a real excerpt it is measured
against the other real excerpts: the natural spread between two pieces of the same music.</dd>
<dt>Real-time factor</dt><dd>Seconds of computing per second of audio, all clips generated
together; below 1 is faster than real time.</dd></dl></section>"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
:root {{ --ink: #1f2328; --muted: #687078; --line: #e3e5e8; --bg: #f6f5f1;
  --real: #2b6cb0; --generated: #c05621; --baseline: #8a8f98; }}
body {{ margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }}
main {{ max-width: 1320px; margin: 0 auto; padding: 28px 32px 64px; }}
h1 {{ font-size: 28px; margin: 0; }} h1 span {{ color: var(--muted); font-weight: 400; }}
h2 {{ font-size: 22px; margin: 18px 0 6px; }} .label h2 {{ text-transform: capitalize; }}
h3 {{ font-size: 13px; margin: 20px 0 8px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .06em; }}
.note {{ color: var(--muted); font-size: 13px; margin: 4px 0; }}
.verdict {{ border-radius: 12px; padding: 10px 16px; margin: 14px 0; }}
.verdict.pass {{ background: #eaf6ec; border: 1px solid #9bd0a5; }}
.verdict.miss {{ background: #fdecea; border: 1px solid #e6a29b; }}
.verdict ul {{ margin: 6px 0 0; padding-left: 20px; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 14px; margin: 18px 0 4px; }}
.card {{ background: #fff; border: 1px solid var(--line); border-radius: 12px;
  padding: 12px 20px; min-width: 190px; }}
.card .value {{ font-size: 22px; font-weight: 650; }}
.card .key {{ color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .05em; }}
section {{ background: #fff; border: 1px solid var(--line); border-radius: 16px;
  padding: 6px 26px 22px; margin: 22px 0; }}
.summary {{ font-size: 16px; }} a {{ color: var(--real); }}
.pair {{ display: grid; grid-template-columns: 1fr 1fr; gap: 16px; margin-bottom: 16px; }}
.pair.three {{ grid-template-columns: 1fr 1fr 1fr; gap: 12px; }}
figure.clip {{ margin: 0; padding: 10px 12px 8px; background: #fff;
  border: 1px solid var(--line); border-left: 5px solid var(--baseline); border-radius: 10px; }}
figure.real {{ border-left-color: var(--real); }}
figure.generated {{ border-left-color: var(--generated); }}
figure.missing p {{ color: var(--muted); }}
figcaption {{ font-weight: 600; margin-bottom: 6px; }}
.source {{ margin-left: 10px; font-size: 12px; font-weight: 400; color: var(--muted); }}
.tag {{ margin-left: 10px; padding: 1px 8px; border-radius: 9px; font-size: 11px;
  font-weight: 500; color: #fff; background: var(--baseline); vertical-align: 2px;
  white-space: nowrap; }}
.real .tag {{ background: var(--real); }} .generated .tag {{ background: var(--generated); }}
figure img {{ display: block; width: 100%; height: auto; border-radius: 4px; }}
figure audio {{ display: block; width: 100%; margin-top: 8px; height: 36px; }}
img.wide {{ display: block; max-width: 100%; height: auto; margin: 8px 0; }}
table {{ border-collapse: collapse; font-variant-numeric: tabular-nums; }}
table.stats {{ width: 100%; }}
table th, table td {{ padding: 6px 12px; border-bottom: 1px solid var(--line); }}
table.stats th {{ font-size: 13px; color: var(--muted); font-weight: 600; text-align: right; }}
table.stats td {{ text-align: right; }}
table.stats .genre {{ color: var(--muted); }}
section.notes td {{ white-space: nowrap; }}
table.stats td:first-child, table.stats th:first-child {{ text-align: left; }}
tr.real td:first-child {{ color: var(--real); font-weight: 600; }}
tr.generated td:first-child {{ color: var(--generated); font-weight: 600; }}
table.facts th {{ text-align: left; font-weight: 500; color: var(--muted); }}
details summary {{ cursor: pointer; margin: 14px 0 6px; color: var(--muted); }}
dt {{ font-weight: 600; margin-top: 10px; }} dd {{ margin: 2px 0 0; color: #3d444d; }}
@media (max-width: 900px) {{ .pair, .pair.three {{ grid-template-columns: 1fr; }}
  main {{ padding: 16px; }} section {{ padding: 6px 14px 16px; }}
  table {{ display: block; overflow-x: auto; max-width: 100%; }}
  figcaption, .note, h1, h2 {{ overflow-wrap: anywhere; }} .card {{ min-width: 0; }} }}
</style></head>
<body><main>
{body}
</main></body></html>
"""
