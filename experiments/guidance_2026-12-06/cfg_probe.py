"""Classifier-free guidance on the notes, tried on the demo's composed pieces.

python cfg_probe.py RUN REPORT SECONDS W:GAIN [W:GAIN ...]

Renders every REPORT/LABEL-composed-N.mid for SECONDS in one batch (the report's
sampling: floors, note temperature, jump limit, treble tilt; no noise guard, no
unsteered rests) with the eager step, each stream twice: steered by its notes and
unsteered (frames absent, nothing heard, as train.local_dropout withholds them). The
next sample is drawn from log p_u + W (log p_s - log p_u); W = 1 is the steered model
alone. GAIN: the excitation's gain (the product's default 3). Prints, per genre, what
reaches the ear (report.notes.heard_figures) and the report's audio figures.
"""

import glob
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import wavenet_music.wavenet.generate as gen
from wavenet_music.audio.spectral import clip_statistics, shape_and_level
from wavenet_music.notes.midi import read_midi
from wavenet_music.report.notes import heard_figures
from wavenet_music.wavenet.checkpoint import load_model
from wavenet_music.wavenet.follow import render_notes
from wavenet_music.wavenet.incremental import IncrementalWaveNet

WEIGHT = [1.0]


def drawn_guided(self, model, timeline, start, length, generator, on_step, streams=None):
    w = WEIGHT[0]
    history, device = timeline.history, timeline.history.device
    num = history.shape[0]
    which = slice(None) if streams is None else streams.cpu()
    span = slice(start, start + length)
    floors = None if self.floors is None else self.floors[which, span]
    temperatures = None if self.temperatures is None else self.temperatures[which, span]
    per_step = gen.step_rows(floors, length, device)
    heat = gen.step_rows(temperatures, length, device, inverse=True)
    noise = gen.uniform_rows(generator, num, length, device, self.random)
    fast = self.step
    doubled = w != 1.0
    if doubled:
        frames = torch.cat([timeline.frames, torch.full_like(timeline.frames, float("nan"))])
        heard = None
        if timeline.heard is not None:
            heard = torch.cat([timeline.heard, torch.zeros_like(timeline.heard)])
        labels = None if timeline.labels is None else torch.cat([timeline.labels] * 2)
        state = fast.initial_state(model, torch.cat([history] * 2), labels, frames, heard)
    else:
        state = fast.initial_state(model, history, timeline.labels, timeline.frames, timeline.heard)
    x = history[:, -1]
    out = torch.empty(num, length, dtype=torch.long, device=device)
    for t, floor, inverse, u in zip(range(length), per_step, heat, noise, strict=True):
        if doubled:
            logits, state = fast.step(torch.cat([x, x]), state)
            logp = torch.log_softmax(logits, dim=1)
            steered, plain = logp[:num], logp[num:]
            logits = plain + w * (steered - plain)
        else:
            logits, state = fast.step(x, state)
        x = fast.draw(logits, x, self.temperature, generator, floor, inverse, self.jumps, u)
        out[:, t] = x
    return out


gen.Sampling.drawn = drawn_guided
gen.generation_step = lambda model, engine, precision: IncrementalWaveNet(model)


def main() -> None:
    run, report, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    torch.set_num_threads(1)
    model, config = load_model(run)
    labels_all = config.model.global_labels
    mids = sorted(glob.glob(str(report / "*-composed-*.mid")))
    labels = [Path(m).name.split("-composed-")[0] for m in mids]
    pieces = [[n for n in read_midi(Path(m)) if n.onset < seconds] for m in mids]
    index = torch.tensor([labels_all.index(lab) for lab in labels])
    rate = config.data.sample_rate
    for arg in sys.argv[4:]:
        w, gain = map(float, arg.split(":"))
        WEIGHT[0] = w
        began = time.time()
        audio = render_notes(model, config, pieces, seconds, index, seed=3, excitation_gain=gain)
        took = time.time() - began
        for i, m in enumerate(mids):
            sf.write(f"/tmp/cfg_out/{Path(m).stem}_w{w:g}_g{gain:g}.wav", audio[i], rate)
        for label in sorted(set(labels)):
            rows = [i for i, lab in enumerate(labels) if lab == label]
            h = heard_figures([pieces[i] for i in rows], audio[rows], rate)
            real = [sf.read(p, dtype="float32")[0] for p in sorted(glob.glob(str(report / f"{label}-real-*.wav")))]
            real = [r[: audio.shape[1]] for r in real]
            shape, level = shape_and_level(list(audio[rows]), real, rate)
            flat = np.mean([clip_statistics(audio[i], rate)["flatness"] for i in rows])
            rms = np.mean([20 * np.log10(np.sqrt(np.mean(audio[i] ** 2)) + 1e-9) for i in rows])
            print(
                f"w {w:g} gain {gain:g} {label:9s} note F1 {h['note_f1']:.2f} "
                f"(chance {h['chance_note_f1']:.2f}) frame pc {h['frame_pitch_class_f1']:.2f} "
                f"notes/s {h['notes_per_second']:.1f} keys {h['low_pitch']:.0f}-{h['high_pitch']:.0f} "
                f"rms {rms:.1f} flatness {flat:.3f} shape {shape:.1f} level {level:+.1f} dB",
                flush=True,
            )
        print(f"w {w:g} gain {gain:g}: rendered in {took:.0f} s", flush=True)


if __name__ == "__main__":
    main()
