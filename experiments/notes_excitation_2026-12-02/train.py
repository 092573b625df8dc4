"""Train one arm at a fixed budget: python train.py ARM STEPS [SEED].

Adam, lr 0.002 with 50 warm-up steps and cosine decay to 1e-5 (the package's schedule,
wavenet_music.runtime.training.cosine_schedule), grad clip 1.0, batch 8 × 2,000 targets,
windows drawn uniformly over training samples (hop-aligned starts). Same window sequence
for every arm (same seed). No unsteered windows.
"""
import json, math, sys, time
import numpy as np
import torch
import torch.nn.functional as F
from wavenet_music.runtime.training import cosine_schedule
from common import *

arm, steps = sys.argv[1], int(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
noise = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0  # max std of waveform noise added to the input history
out = ROOT / "runs" / (f"{arm}_s{seed}_{steps}" + (f"_noise{noise:g}" if noise else ""))
out.mkdir(parents=True, exist_ok=True)
clips = load_split("train")
model = build_model(arm, seed)
opt = torch.optim.Adam(model.parameters(), lr=0.002)
rf, S, B = model.receptive_field, 2000, 8
length = rf - 1 + S
rng = np.random.default_rng(1000 + seed)
weights = np.array([len(c.classes) - length - 1 for c in clips], float)
weights /= weights.sum()
log = open(out / "log.jsonl", "w")
t0 = time.time()
for step in range(steps):
    lr = cosine_schedule(step, 0.002, 1e-5, 50, steps, None, 0.0)
    for g in opt.param_groups:
        g["lr"] = lr
    items = []
    for _ in range(B):
        c = clips[rng.choice(len(clips), p=weights)]
        start = int(rng.integers(0, (len(c.classes) - length - 1) // HOP + 1)) * HOP
        items.append(window(c, start, length, arm))
    xs, fr, ex = batch(items)
    inputs = xs[:, :-1]
    if noise:  # corrupt the history the model reads (targets stay clean): per window std ~ U(0, noise)
        from wavenet_music.audio.io import mu_law_decode, mu_law_encode
        wave = mu_law_decode(inputs.numpy())
        std = rng.uniform(0, noise, size=(B, 1))
        inputs = torch.from_numpy(mu_law_encode(wave + std * rng.standard_normal(wave.shape)))
    logits = model(inputs, None, fr, ex)
    loss = F.cross_entropy(logits, xs[:, rf:])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    bits = loss.item() / math.log(2)
    if step + 1 == steps // 2:
        torch.save(model.state_dict(), out / "model_half.pt")
    if step % 10 == 0 or step == steps - 1:
        rec = {"step": step, "bits": round(bits, 4), "lr": lr, "elapsed": round(time.time() - t0, 1)}
        log.write(json.dumps(rec) + "\n"); log.flush()
        if step % 50 == 0:
            print(rec, flush=True)
torch.save(model.state_dict(), out / "model.pt")
elapsed = time.time() - t0
held = load_split("heldout")
hb = heldout_bits(model, held, arm)
held_t = load_split("heldout", transpose=3)
hbt = heldout_bits(model, held_t, arm)
res = {"noise": noise, "arm": arm, "steps": steps, "seed": seed, "train_seconds": round(elapsed, 1),
       "s_per_step": round(elapsed / steps, 3), "heldout_bits": round(hb, 4),
       "heldout_bits_notes_transposed_+3": round(hbt, 4), "eval_seconds": round(time.time() - t0 - elapsed, 1)}
print(res, flush=True)
(out / "result.json").write_text(json.dumps(res, indent=1))
