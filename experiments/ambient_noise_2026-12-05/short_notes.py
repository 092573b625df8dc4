import sys, pretty_midi
from pathlib import Path
for k in sys.argv[1:]:
    m = pretty_midi.PrettyMIDI(f'demoH-{k}-ambient.mid')
    for mode in ('drop', 'long'):
        n = pretty_midi.PrettyMIDI(f'demoH-{k}-ambient.mid')
        for inst in n.instruments:
            if mode == 'drop':
                inst.notes = [x for x in inst.notes if x.end - x.start >= 0.128]
            else:
                for x in inst.notes:
                    x.end = max(x.end, x.start + 0.128)
        n.write(f'h{k}-{mode}.mid')
    short = sum(1 for i in m.instruments for x in i.notes if x.end - x.start < 0.128)
    total = sum(len(i.notes) for i in m.instruments)
    print(k, 'short', short, 'of', total)
