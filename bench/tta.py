"""Benchmark: `five_crop_tta` against fastai's `learn.tta(n=4)` and ttach's five-crop TTA on one trained CPU-recipe model.

Trains the model once (`--epochs` of `fit_one_cycle` on the CPU recipe's synthetic data) and caches its weights in
`--cache`, so later runs only time. Each repeat runs every TTA back to back on the whole validation set (so all see
the same machine load); the medians are compared. Targets: five_crop_tta / fastai tta <= 0.5, and five_crop_tta /
ttach <= 1, where ttach's `ClassificationTTAWrapper` with `five_crop_transform` (a dev extra) wraps the same model
(followed by the loss's activation, so it averages probabilities too) and is fed the same batches, at the same sizes
(the training size's crops of 8/7 larger images).

Five-crop TTA saves re-loading, not forwards: both make five forward passes per image, but fastai's decodes and
augments every image n+1 times. How much that saves depends on what loading costs next to a forward. The CPU recipe's
synthetic files are 96 px, cheap to decode; Imagenette's are ~500 px JPEGs. So the benchmark runs twice by default:
on the recipe's own validation files, and on the same synthetic validation set written as `--files`-px JPEGs (the
same model, the same presize and size: only the decoding grows), and prints where the time goes in each.

Usage (from the repo root): .venv/bin/python bench/tta.py [--repeats 3] [--epochs 2] [--files 96,400] [--cache DIR] [--retrain]
"""
import argparse, hashlib, json, statistics, sys, tempfile, time, warnings
import ttach
from dataclasses import asdict
from pathlib import Path

warnings.filterwarnings('ignore')
from fastai.vision.all import *
from fastbook_ch7.baseline import recipe, recipe_dls, recipe_learner
from fastbook_ch7.data import make_synthetic_imagenette, dataset_path
from fastbook_ch7.runfolder import save_weights, load_weights
from fastbook_ch7.tta import five_crop_tta, tta_valid_dl, crop_size, tta_image_size

TARGET = 0.5         # five_crop_tta / fastai tta
TARGET_PEER = 1.0    # five_crop_tta / ttach five-crop

class WithActivation(nn.Module):
    "`model` followed by `act`, so that ttach merges probabilities as `five_crop_tta` does"
    def __init__(self, model, act): super().__init__(); self.model,self.act = model,act
    def forward(self, x): return self.act(self.model(x))

def ttach_five_crop(learn, dl, size):
    "ttach's five-crop TTA (mean) of `learn.model` fed the batches of `dl` as plain tensors, as `(preds, targs)`"
    wrapper = ttach.ClassificationTTAWrapper(WithActivation(learn.model, getcallable(learn.loss_func, 'activation')),
                                             ttach.aliases.five_crop_transform(size, size), merge_mode='mean')
    learn.model.eval()
    with torch.inference_mode():
        out = [(wrapper(xb.as_subclass(Tensor)), yb) for xb,yb in dl]
    return torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])

def trained_learner(R, epochs, cache, retrain=False):
    "A learner of recipe `R` trained for `epochs`, its weights cached in `cache`; and whether it was trained now"
    key = hashlib.sha256(json.dumps(dict(asdict(R), epochs=epochs), sort_keys=True).encode()).hexdigest()[:12]
    fn = Path(cache)/f'tta_bench_{key}.pth'
    set_seed(R.seed, reproducible=True)
    learn = recipe_learner(R, recipe_dls(R))
    if fn.exists() and not retrain:
        load_weights(learn.model, fn)
        return learn, fn, None
    t0 = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, R.lr)
    secs = time.perf_counter() - t0
    save_weights(learn.model, fn)
    return learn, fn, secs

def timed(f):
    t0 = time.perf_counter(); res = f(); return res, time.perf_counter() - t0

def bench(learn, R, a, what):
    "Time fastai's tta, five_crop_tta and ttach on `learn.dls.valid`; print the table and where the time goes; return the ratios"
    print(f'\n== {what}')
    n_valid = len(learn.dls.valid_ds)
    big_dl = tta_valid_dl(learn, R.size)
    calls = {
        f'fastai tta(n={a.n})': lambda: learn.tta(n=a.n),
        f'five_crop_tta ({crop_size(R.size)}px crops of {R.size}px)': lambda: five_crop_tta(learn),
        f'five_crop_tta ({R.size}px crops of {tta_image_size(R.size)}px)': lambda: five_crop_tta(learn, big_dl, R.size),
        f'ttach five-crop ({R.size}px crops of {tta_image_size(R.size)}px)': lambda: ttach_five_crop(learn, big_dl, R.size),
    }
    times,accs,loads,fwds = {k:[] for k in calls},{},[],[]
    model = learn.model.eval()
    with learn.no_bar(), learn.no_logging():
        plain_acc = accuracy(*learn.get_preds()).item()  # untimed warm-up: model, allocator, file cache
        for r in range(a.repeats):
            for name,f in calls.items():
                set_seed(r)
                (preds,targs),t = timed(f)
                times[name].append(t)
                accs.setdefault(name, accuracy(preds, targs).item())
            xs,t = timed(lambda: [b[0].as_subclass(Tensor) for b in learn.dls.valid])  # one loading pass, no model
            loads.append(t)
            with torch.inference_mode(): fwds.append(timed(lambda: [model(x) for x in xs])[1])  # one forward pass, no loading
            print(f'repeat {r+1}/{a.repeats}: ' + ', '.join(f'{k} {v[-1]:.2f}s' for k,v in times.items()), flush=True)

    med = {k:statistics.median(v) for k,v in times.items()}
    load,fwd = statistics.median(loads),statistics.median(fwds)
    fastai_name,fc_name,big_name,ttach_name = calls
    print(f'{n_valid} validation images, median of {a.repeats} repeats; plain accuracy {plain_acc:.4f}')
    for k in calls: print(f'  {k:45} {med[k]:7.2f}s  accuracy {accs[k]:.4f}')
    print(f'  where the time goes: one loading pass {load:.2f}s, one forward pass {fwd:.2f}s at {R.size}px; '
          f'fastai makes {a.n+1} of each, five-crop 1 load and 5 forwards: '
          f'expected ratio about {(load+5*fwd)/((a.n+1)*(load+fwd)):.2f}')
    ratio,big_ratio = med[fc_name]/med[fastai_name],med[big_name]/med[fastai_name]
    peer = med[big_name]/med[ttach_name]
    paired = statistics.median(a/b for a,b in zip(times[big_name], times[ttach_name]))
    print(f'ratio five_crop_tta / fastai tta = {ratio:.3f} '
          f'(at the training size: {big_ratio:.3f}); '
          f'target <= {TARGET}: {"met" if max(ratio, big_ratio) <= TARGET else "NOT met"}')
    print(f'ratio five_crop_tta / ttach five-crop = {peer:.3f} (same batches, {R.size}px crops of {tta_image_size(R.size)}px; '
          f'median of the per-repeat ratios {paired:.3f}); target <= {TARGET_PEER}: {"met" if peer <= TARGET_PEER else "NOT met"}')
    return dict(fastai=ratio, fastai_big=big_ratio, ttach=peer)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=3, help='timed repeats of each TTA (median reported)')
    p.add_argument('--epochs', type=int, default=2, help='training epochs of the benchmarked model')
    p.add_argument('--n', type=int, default=4, help="fastai tta's number of augmented passes")
    p.add_argument('--cache', default=Path(tempfile.gettempdir())/'fastbook_ch7_bench', help='where the trained weights are kept')
    p.add_argument('--retrain', action='store_true', help='train again even if cached weights exist')
    p.add_argument('--files', type=lambda s: [int(v) for v in s.split(',')], default=[96, 400],
                   help="side of the validation JPEG files, comma-separated; 96 is the CPU recipe's own (default: 96,400)")
    a = p.parse_args(argv)
    if a.repeats < 1 or a.epochs < 1 or a.n < 1: p.error('--repeats, --epochs and --n must be positive')
    Path(a.cache).mkdir(parents=True, exist_ok=True)

    R = recipe(gpu=False)
    print(R.describe())
    learn,fn,secs = trained_learner(R, a.epochs, a.cache, a.retrain)
    print(f'model: {a.epochs} epochs, ' + (f'trained in {secs:.0f}s, saved to {fn}' if secs else f'loaded from {fn}'))
    ratios = {}
    recipe_files = json.loads((dataset_path(R.data)/'synthetic.json').read_text())['size']  # side of the recipe's own files
    for files in a.files:
        if files == recipe_files: dls,what = recipe_dls(R),f'the recipe\'s synthetic files ({files}px)'
        else:
            path = make_synthetic_imagenette(Path(a.cache)/f'synthetic_{files}px', n_train=1, size=files, seed=R.seed)
            dls,what = recipe_dls(R, path=path),f'the synthetic validation set as {files}px files'
        learn.dls = dls
        ratios[files] = bench(learn, R, a, what)
    print('\nsummary (five_crop_tta / fastai tta at 7/8 crops and at the training size; / ttach): ' + '; '.join(
          f'{k}px files: {v["fastai"]:.3f}, {v["fastai_big"]:.3f}; {v["ttach"]:.3f}' for k,v in ratios.items())
          + f' — targets <= {TARGET} and <= {TARGET_PEER}')
    return 0

if __name__ == '__main__': sys.exit(main())
