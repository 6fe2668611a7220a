"""Benchmark: training images per second of the CPU recipe against the previous one, measured in the same run.

The previous CPU recipe (before the honest ladder) trained a full-width xresnet18 at 48 px, decoding every image each
epoch; the current one (`recipe(gpu=False)`) trains it at half width (`widen=0.5`) at 32 px from images decoded once
and held in memory (`in_memory=True`). Both read the same synthetic files with the same batch augmentation. Each repeat times `--batches` training steps of each recipe back to back (interleaved, so
both see the same machine load, after a warm-up batch) and the medians are compared: images/s = batches × bs / seconds.

Usage (from the repo root): .venv/bin/python bench/train_speed.py [--repeats 3] [--batches 20] [--threads N]
"""
import argparse, dataclasses, statistics, time, warnings
warnings.filterwarnings('ignore')
import torch
from fastai.vision.all import set_seed
from fastbook_ch7.baseline import recipe, recipe_dls, recipe_learner
from fastbook_ch7.data import dataset_path

def steps_per_second(R, path, batches):
    "Seconds for `batches` training steps (data loading, forward, backward, optimizer) of recipe `R`"
    set_seed(0)
    learn = recipe_learner(R, recipe_dls(R, path=path))
    learn.create_opt(); learn.model.train()
    it = iter(learn.dls.train)
    def step():
        nonlocal it
        try: xb,yb = next(it)
        except StopIteration: it = iter(learn.dls.train); xb,yb = next(it)
        loss = learn.loss_func(learn.model(xb), yb); loss.backward(); learn.opt.step(); learn.opt.zero_grad()
    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(batches): step()
    return time.perf_counter() - t0

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=3); p.add_argument('--batches', type=int, default=20)
    p.add_argument('--threads', type=int, default=None)
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    new = recipe(gpu=False)
    old = dataclasses.replace(new, widen=1., size=48, prog_scale=32/48, in_memory=False)  # the CPU recipe before this one
    path = dataset_path(new.data)
    times = {'previous (xresnet18, 48 px, files)': [], 'current (×0.5 wide, 32 px, memory)': []}
    for _ in range(a.repeats):
        for (name,ts),R in zip(times.items(), (old, new)): ts.append(steps_per_second(R, path, a.batches))
    ips = {k: a.batches*new.bs/statistics.median(v) for k,v in times.items()}
    for k,v in ips.items(): print(f'{k:32} {v:7.0f} images/s (median of {a.repeats})')
    (o,n) = ips.values()
    print(f'ratio current/previous: {n/o:.2f}x images per second ({torch.get_num_threads()} threads)')
