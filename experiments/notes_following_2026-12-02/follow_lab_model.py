"""Score a lab model (experiments/notes_excitation_2026-12-02, ExcitedWaveNet) with the
package's follow_notes: python follow_lab_model.py RUN_DIR [SECONDS] [model.pt]

The lab model's weights map one to one onto the package's WaveNet with
model.excitation (exc_proj.l -> blocks.l.excitation_condition): same roll (176 channels,
hop 256, raw), same excitation, same alignment. Renders start from silence (the package
way), unlike the lab's gen.py, which primed with 0.096 s of the real audio.
"""

import json
import sys
import time
from pathlib import Path

import torch

from wavenet_music.config import apply_overrides, load_preset
from wavenet_music.wavenet.follow import follow_notes, mean_scores
from wavenet_music.wavenet.model import WaveNet

torch.set_num_threads(1)
run = Path(sys.argv[1])
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
weights = sys.argv[3] if len(sys.argv) > 3 else "model.pt"
temperature = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
config = apply_overrides(
    load_preset("notes"),
    {"train.local_dropout": 0.0, "data.cache_dir": "/tmp/notes_exp/package_cache"},
)
state = torch.load(run / weights, map_location="cpu")
mapped = {}
for key, value in state.items():
    if key.startswith("exc_proj."):
        layer = key.split(".")[1]
        key = f"blocks.{layer}.excitation_condition.weight"
    mapped[key] = value
model = WaveNet(config.model)
model.load_state_dict(mapped)
model.eval()
t0 = time.time()
results = follow_notes(
    model, config, Path("/tmp/notes_exp/data/heldout"), seconds, temperature=temperature
)
out = {
    "run": str(run), "weights": weights, "seconds": seconds, "temperature": temperature,
    "elapsed_s": round(time.time() - t0, 1),
    "steered": mean_scores(results, "steered"), "floor": mean_scores(results, "floor"),
    "ceiling": mean_scores(results, "ceiling"),
    "pieces": [r.to_dict() for r in results],
}
print(json.dumps(out))
