"""Benchmark: training images per second of the fast CPU training path against commit 488e30d's CPU recipe, in one run.

The previous recipe (`recipe(gpu=False)` at 488e30d, still the default): xresnet18 at half width, 32 px from 96 px presized
images decoded once and held in memory, bs 32, batches collated image by image. The fast path (issue 21's candidate):
the same data, every batch one slice of a uint8 tensor of the presized images (`tensor_batches`), fastai's batch
transforms on the whole batch, channels-last (`channels_last`), bs 64, quarter width, 48 px presize.
Each repeat trains each recipe for `--epochs` epochs through `fit_one_cycle` (validation skipped, after a one-epoch
warm-up), the two one after the other on the same machine; the medians are compared: images/s = images trained / seconds.

Usage (from the repo root): .venv/bin/python bench/train_speed.py [--repeats 3] [--epochs 2] [--threads N]
"""
import argparse, dataclasses, statistics, time, warnings
warnings.filterwarnings('ignore')
import torch
from fastai.vision.all import Callback, CancelValidException, ProgressCallback, set_seed
from fastbook_ch7.baseline import recipe, recipe_dls, recipe_learner
from fastbook_ch7.data import dataset_path

class _NoValidation(Callback):
    "Skip validation: the benchmark times training only"
    def before_validate(self): raise CancelValidException

def train_images_per_second(R, path, epochs):
    "Images per second of `fit_one_cycle(epochs)` with recipe `R`'s DataLoaders and model (after a one-epoch warm-up)"
    set_seed(0)
    learn = recipe_learner(R, recipe_dls(R, path=path), cbs=_NoValidation())
    learn.remove_cb(ProgressCallback)
    learn.fit_one_cycle(1, R.lr)
    t0 = time.perf_counter()
    learn.fit_one_cycle(epochs, R.lr)
    return len(learn.dls.train)*learn.dls.train.bs*epochs / (time.perf_counter() - t0)

def recipes():
    "(previous, fast): commit 488e30d's CPU recipe and the fast training path"
    old = recipe(gpu=False)
    return old, dataclasses.replace(old, tensor_batches=True, channels_last=True, bs=64, widen=0.25, presize=48)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=3); p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--threads', type=int, default=None)
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    old,new = recipes()
    path = dataset_path(old.data)
    ips = {'previous (488e30d: bs 32, items collated)': [], 'fast (tensor batches, channels-last)': []}
    for _ in range(a.repeats):
        for ts,R in zip(ips.values(), (old, new)): ts.append(train_images_per_second(R, path, a.epochs))
    for k,v in ips.items(): print(f'{k:44} {statistics.median(v):7.0f} images/s (median of {a.repeats}: {", ".join(f"{x:.0f}" for x in v)})')
    o,n = (statistics.median(v) for v in ips.values())
    print(f'ratio fast/previous: {n/o:.2f}x training images per second ({torch.get_num_threads()} threads)')
