"""Check the incremental generator on untrained weights of each arm, and that the check
is sensitive to a one-sample misalignment of the excitation."""
import torch
from common import *
import gen
for arm in ["exc", "roll", "both"]:
    m = build_model(arm, seed=3).eval()
    st = gen.Stepper(m, load_split("heldout"), arm, 1.0)
    print(arm, "max |Δ| =", st.check(600))
    if st.exc is not None:
        st.exc = torch.roll(st.exc, 1, dims=2)  # the incremental path now reads e[idx]
        st_exc_shift = st.exc
        # full forward in check() also reads the rolled tensor: shift only the incremental side
        class S(gen.Stepper):
            pass
        orig = st.exc
        st2 = gen.Stepper(m, load_split("heldout"), arm, 1.0)
        ref = st2.exc.clone()
        st2.exc = torch.roll(ref, 1, dims=2)
        state = st2.initial_state()
        got = torch.stack([st2.step(st2.classes[:, st2.H - 1 + t], state) for t in range(600)], 2)
        L = st2.H + 599
        fr = None if st2.frames is None else st2.frames[:, :, : -(-L // HOP) + 2]
        want = m(st2.classes[:, :L], None, fr, ref[:, :, 1 : L + 1])[:, :, -600:]
        print(arm, "one-sample-shifted excitation: max |Δ| =", float((got - want).abs().max()))
