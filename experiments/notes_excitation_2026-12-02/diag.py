"""Where does the conditioning pay? Per-sample held-out bits with the true notes vs the
notes transposed +3 semitones (same rhythm and loudness, wrong pitches), split into samples
within 60 ms after a note onset and the rest. python diag.py RUN ARM [RUN ARM ...]"""

import sys

import numpy as np
import torch
import torch.nn.functional as F

from common import *


def per_sample_bits(model, clips, arm, sample_size=2048):
    rf = model.receptive_field
    length = rf - 1 + sample_size
    out = []
    with torch.no_grad():
        for c in clips:
            T = len(c.audio)
            bits = np.zeros(T)
            for j0 in range(0, T, sample_size):
                s = PAD + j0 - rf
                n = min(sample_size, T - j0)
                x, fr, ex = window(c, s, length, arm)
                if len(x) < length + 1:
                    x = np.concatenate([x, np.full(length + 1 - len(x), 128)])
                if ex is not None and ex.shape[1] < length:
                    ex = np.pad(ex, ((0, 0), (0, length - ex.shape[1])))
                xs, frs, exs = batch([(x, fr, ex)])
                nll = F.cross_entropy(model(xs[:, :-1], None, frs, exs), xs[:, rf:], reduction="none")
                bits[j0 : j0 + n] = nll[0, :n].numpy() / np.log(2)
            out.append(bits)
    return out


def main():
    args = sys.argv[1:]
    true, wrong = load_split("heldout"), load_split("heldout", transpose=3)
    for run, arm in zip(args[::2], args[1::2]):
        model = build_model(arm)
        model.load_state_dict(torch.load(ROOT / "runs" / run / "model.pt"))
        model.eval()
        bt, bw = per_sample_bits(model, true, arm), per_sample_bits(model, wrong, arm)
        near, far = [], []
        for c, a, b in zip(true, bt, bw):
            mask = np.zeros(len(a), bool)
            for n in c.notes:
                s = int(n.start * SR)
                mask[s : s + int(0.06 * SR)] = True
            near.append((a[mask], b[mask]))
            far.append((a[~mask], b[~mask]))
        na = np.concatenate([x for x, _ in near]); nb = np.concatenate([y for _, y in near])
        fa = np.concatenate([x for x, _ in far]); fb = np.concatenate([y for _, y in far])
        print(f"{run}: bits true/transposed: all {np.mean(np.r_[na, fa]):.4f}/{np.mean(np.r_[nb, fb]):.4f}; "
              f"<60 ms after an onset ({len(na) / (len(na) + len(fa)):.0%} of samples) {na.mean():.4f}/{nb.mean():.4f}; "
              f"elsewhere {fa.mean():.4f}/{fb.mean():.4f}", flush=True)


if __name__ == "__main__":
    main()
