"""Render the held-out pieces' notes with a trained arm, primed with the first 1,536
samples (0.096 s) of the real audio: python gen.py RUN_DIR ARM [SECONDS] [--check].

Incremental generation: the package's IncrementalWaveNet (queue method) for the
convolutions and the frame-rate local conditioning, plus, per layer, the excitation
term exc_proj_l(e[idx + 1]) for the sample fed at timeline index idx (the same alignment
as training: the input at i hears the excitation of the sample it predicts).
Checked (``--check``, and always on the first 2,048 steps): teacher-forced incremental
logits equal the full forward pass's logits over the same timeline.
Both pieces are generated side by side (batch 2), temperature 1.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import soundfile as sf
import torch

from common import *
from wavenet_music.audio.io import mu_law_decode
from wavenet_music.wavenet.incremental import GenerationState, IncrementalWaveNet, layer_conditioning, sample

PRIME = 1536  # samples of real audio (6 frames), so that history = PAD + PRIME = 10 frames


class Stepper:
    def __init__(self, model: ExcitedWaveNet, clips: list[Clip], arm: str, seconds: float):
        self.model, self.arm = model, arm
        self.inc = IncrementalWaveNet(model)
        self.T = min(int(seconds * SR), min(len(c.audio) for c in clips))
        total = PAD + self.T
        self.H = PAD + PRIME
        self.classes = torch.from_numpy(np.stack([c.classes[:total] for c in clips]))  # (B, total)
        nf = -(-total // HOP) + 2
        fr = None
        if arm in ("roll", "both"):
            fr = np.zeros((len(clips), ROLL_CH, nf), np.float32)
            for b, c in enumerate(clips):
                m = min(nf - 1, c.frames.shape[1])
                fr[b, :, 1 : 1 + m] = c.frames[:, :m]  # frames[:, 0] is the context frame before 0
            fr = torch.from_numpy(fr)
        self.frames = fr
        self.exc = None  # (B, K, total + 1): e of the padded timeline
        if arm in ("exc", "both"):
            self.exc = torch.from_numpy(np.stack([c.exc[:, : total + 1] for c in clips]))
            w = torch.cat([p.weight[:, :, 0] for p in model.exc_proj], dim=0)  # (L·2D, K)
            self.exc_w = w.t().contiguous().detach()  # (K, L·2D)

    def initial_state(self) -> GenerationState:
        h = self.classes[:, : self.H]
        ex = None if self.exc is None else self.exc[:, :, 1 : self.H]  # aligned with h[:, :-1]
        with torch.inference_mode():
            hist = self.model.conv_histories(h[:, :-1], None, self.frames, ex)
            state = GenerationState(
                queues=[x.permute(2, 0, 1).contiguous() for x in hist], local_origin=self.H - 1
            )
            state.local = layer_conditioning(self.model, self.frames)
        return state

    @torch.inference_mode()
    def step(self, x: torch.Tensor, state: GenerationState) -> torch.Tensor:
        inc, t = self.inc, state.time
        idx = state.local_origin + t  # timeline index of the sample fed
        one_hot = torch.nn.functional.one_hot(x, 256).float()
        h = inc.causal.step(one_hot, state.queues[0], t)
        frame = idx // HOP
        d2 = 2 * inc.dilation_channels
        ex = None if self.exc is None else self.exc[:, :, idx + 1] @ self.exc_w  # (B, L·2D)
        zs = []
        for layer, (conv, (w_res, b_res)) in enumerate(zip(inc.filter_gate, inc.residual)):
            pre = conv.step(h, state.queues[layer + 1], t)
            if state.local is not None:
                pre = pre + state.local[layer][:, :, frame]
            if ex is not None:
                pre = pre + ex[:, layer * d2 : (layer + 1) * d2]
            z = torch.tanh(pre[:, : inc.dilation_channels]) * torch.sigmoid(pre[:, inc.dilation_channels :])
            h = h + torch.addmm(b_res, z, w_res)
            zs.append(z)
        skips = torch.addmm(inc.skip[1], torch.cat(zs, 1), inc.skip[0])
        (w1, b1), (w2, b2) = inc.head
        logits = torch.addmm(b2, torch.relu(torch.addmm(b1, torch.relu(skips), w1)), w2)
        state.time = t + 1
        return logits

    @torch.inference_mode()
    def check(self, n: int = 2048) -> float:
        """Teacher-forced incremental logits vs full forward; returns max |difference|."""
        state = self.initial_state()
        got = []
        for t in range(n):
            got.append(self.step(self.classes[:, self.H - 1 + t], state))
        got = torch.stack(got, 2)  # (B, Q, n): predictions of samples H .. H+n-1
        L = self.H + n - 1  # input 0 .. H+n-2
        ex = None if self.exc is None else self.exc[:, :, 1 : L + 1]
        fr = None
        if self.frames is not None:
            fr = self.frames[:, :, : -(-L // HOP) + 2]
        full = self.model(self.classes[:, :L], None, fr, ex)  # predicts samples rf .. L
        want = full[:, :, -n:]
        return float((got - want).abs().max())

    @torch.inference_mode()
    def generate(self, seed: int = 0) -> np.ndarray:
        g = torch.Generator().manual_seed(seed)
        state = self.initial_state()
        out = torch.empty(self.classes.shape[0], self.T - PRIME, dtype=torch.long)
        x = self.classes[:, self.H - 1]
        for t in range(self.T - PRIME):
            x = sample(self.step(x, state), 1.0, g)
            out[:, t] = x
        full = torch.cat([self.classes[:, PAD : self.H], out], 1)
        return mu_law_decode(full.numpy())


def main() -> None:
    run, arm = Path(sys.argv[1]), sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 and not sys.argv[3].startswith("-") else 10.0
    model = build_model(arm)
    model.load_state_dict(torch.load(run / "model.pt"))
    model.eval()
    clips = load_split("heldout")
    st = Stepper(model, clips, arm, seconds)
    t0 = time.time()
    diff = st.check(2048)
    print(f"incremental vs full forward, 2048 teacher-forced steps: max |Δlogit| = {diff:.2e}", flush=True)
    assert diff < 1e-3, diff
    if "--check" in sys.argv:
        return
    t1 = time.time()
    audio = st.generate()
    gen_s = time.time() - t1
    wavs = ROOT / "wavs"
    wavs.mkdir(exist_ok=True)
    for b, c in enumerate(clips):
        sf.write(wavs / f"{run.name}_{c.name}.wav", audio[b], SR, subtype="PCM_16")
    info = {"check_max_abs_logit_diff": diff, "gen_seconds": round(gen_s, 1),
            "ms_per_step": round(1000 * gen_s / (st.T - PRIME), 3), "audio_seconds": st.T / SR}
    (run / "gen.json").write_text(json.dumps(info, indent=1))
    print(info, flush=True)


if __name__ == "__main__":
    main()
