"""Per-batch cost of the from-scratch mixup and label smoothing against the library versions.

Run from the repo root: `.venv/bin/python bench/mix_smooth.py` (about a minute; `--quick` for a smoke run).

What is timed, each as the median of many repeats, with the variants interleaved (A, B, C, A, B, C, ...) so that
a busy machine slows them all alike:
1. a whole fastai training step (callbacks' `before_batch`, forward, loss, backward, optimizer step) of a small
   CNN on a fixed in-memory batch, through `Learner.fit`, so data loading is not part of it:
   - `MixUpFromScratch` vs fastai `MixUp` (both with flat cross-entropy),
   - `LabelSmoothingLoss` vs torch `F.cross_entropy(label_smoothing=)` vs fastai `LabelSmoothingCrossEntropy`;
2. the parts that differ, alone: the mixup callbacks' `before_batch` event, and the loss's forward+backward on a
   `(bs, n_classes)` batch of logits.
Each ratio is from-scratch / library; the target is <= 1.05. torch runs on one thread to keep timings steady on a
shared machine.
"""
import argparse, statistics, sys, time
from functools import partial
import torch, torch.nn as nn, torch.nn.functional as F
from fastai.basics import Learner, Callback, DataLoader, DataLoaders, Flatten, CancelFitException
from fastai.callback.mixup import MixUp
from fastai.losses import LabelSmoothingCrossEntropy, CrossEntropyLossFlat
from fastbook_ch7.mixup import MixUpFromScratch
from fastbook_ch7.smoothing import LabelSmoothingLoss

BS, N_CLASSES, SIZE, EPS = 64, 10, 32, 0.1


class StepTimer(Callback):
    "Wall time of each whole batch (before_batch → after_batch) and of the before_batch event, after `warmup` batches"
    order = -1000
    def __init__(self, warmup=3): self.warmup,self.steps,self.befores = warmup,[],[]
    def before_fit(self): self.i = 0
    def before_batch(self): self.t0 = time.perf_counter()
    def after_batch(self):
        if self.i >= self.warmup: self.steps.append(time.perf_counter() - self.t0)
        self.i += 1


class BeforeBatchEnd(Callback):
    "Marks the end of the before_batch event (runs after every other callback's before_batch)"
    order = 1000
    def __init__(self, timer): self.timer = timer
    def before_batch(self):
        if self.timer.i >= self.timer.warmup: self.timer.befores.append(time.perf_counter() - self.timer.t0)


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), Flatten(), nn.Linear(64, N_CLASSES))


def make_dls(n_batches):
    "`n_batches` copies of one fixed batch as a fastai DataLoaders (no shuffling, no workers, no transforms)"
    g = torch.Generator().manual_seed(0)
    x,y = torch.randn(BS, 3, SIZE, SIZE, generator=g),torch.randint(0, N_CLASSES, (BS,), generator=g)
    items = [(x[i], y[i]) for i in range(BS)]*n_batches
    dls = DataLoaders(DataLoader(items, bs=BS), DataLoader(items[:BS], bs=BS))
    dls.c = N_CLASSES
    return dls


class FunctionLoss:
    "torch's functional cross-entropy with label smoothing, with the attributes fastai looks for"
    y_int = True
    def __init__(self, eps, reduction='mean'): self.eps,self.reduction = eps,reduction
    def __call__(self, pred, y): return F.cross_entropy(pred, y, label_smoothing=self.eps, reduction=self.reduction)
    def activation(self, x): return F.softmax(x, -1)
    def decodes(self, x): return x.argmax(-1)


def fit_times(dls, loss_func, cbs=()):
    "Per-batch times (whole step, before_batch) of one epoch of `Learner.fit` over `dls`, validation skipped"
    timer = StepTimer()
    class SkipValidate(Callback):
        def before_validate(self): raise CancelFitException()
    torch.manual_seed(0)
    learn = Learner(dls, small_cnn(), loss_func=loss_func, cbs=[timer, BeforeBatchEnd(timer), SkipValidate(), *cbs])
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    return timer.steps,timer.befores


def loss_times(loss_func, n):
    "Forward+backward times of `loss_func` on fixed `(BS, N_CLASSES)` logits, `n` repeats"
    g = torch.Generator().manual_seed(1)
    logits,y = torch.randn(BS, N_CLASSES, generator=g).requires_grad_(),torch.randint(0, N_CLASSES, (BS,), generator=g)
    res = []
    for _ in range(n):
        t0 = time.perf_counter()
        loss_func(logits, y).backward()
        res.append(time.perf_counter() - t0)
        logits.grad = None
    return res


def interleaved(variants, rounds, run):
    "{name: all times} running `run(variant)` for each variant in turn, `rounds` times"
    times = {k: [] for k in variants}
    for _ in range(rounds):
        for k,v in variants.items(): times[k] += run(v)
    return times


def report(title, times, ref_names, target=1.05):
    "Print medians and the ratio of the first variant to each reference; return the ratios"
    med = {k: statistics.median(v) for k,v in times.items()}
    ours = next(iter(med))
    print(f"\n{title}")
    for k,m in med.items(): print(f"  {k:45s} median {m*1e6:10.1f} µs  (n={len(times[k])})")
    ratios = {}
    for r in ref_names:
        ratios[r] = med[ours]/med[r]
        print(f"  ratio {ours} / {r}: {ratios[r]:.3f}  {'<= ' if ratios[r] <= target else '> '}{target}: "
              f"{'yes' if ratios[r] <= target else 'NO'}")
    return ratios


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='few repeats: a smoke run, not a measurement')
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    rounds,n_batches,loss_reps = (2, 8, 200) if args.quick else (12, 25, 2000)
    dls = make_dls(n_batches)
    print(f"small CNN, batch {BS}x3x{SIZE}x{SIZE}, {N_CLASSES} classes, eps={EPS}; {rounds} interleaved rounds of "
          f"{n_batches} batches (first 3 of each round not timed), torch threads: {torch.get_num_threads()}")
    t_start = time.perf_counter()

    mix = {'MixUpFromScratch(0.4)': lambda: [MixUpFromScratch(0.4)], 'fastai MixUp(0.4)': lambda: [MixUp(0.4)]}
    raw = interleaved(mix, rounds, lambda make_cbs: [fit_times(dls, CrossEntropyLossFlat(), make_cbs())])
    ratios = {}
    ratios['mixup step'] = report('mixup: whole training step', {k: sum((s for s,_ in v), []) for k,v in raw.items()},
                                  ['fastai MixUp(0.4)'])
    ratios['mixup before_batch'] = report('mixup: before_batch event alone', {k: sum((b for _,b in v), []) for k,v in raw.items()},
                                          ['fastai MixUp(0.4)'])

    losses = {f'LabelSmoothingLoss({EPS})': lambda: LabelSmoothingLoss(EPS),
              f'F.cross_entropy(label_smoothing={EPS})': lambda: FunctionLoss(EPS),
              f'fastai LabelSmoothingCrossEntropy({EPS})': lambda: LabelSmoothingCrossEntropy(EPS)}
    refs = list(losses)[1:]
    raw = interleaved(losses, rounds, lambda make: fit_times(dls, make())[0])
    ratios['smoothing step'] = report('label smoothing: whole training step', raw, refs)
    raw = interleaved(losses, rounds, lambda make: loss_times(make(), loss_reps//rounds))
    ratios['smoothing loss'] = report(f'label smoothing: loss forward+backward alone on ({BS}, {N_CLASSES}) logits', raw, refs)

    print(f"\nsummary (from-scratch / library, target <= 1.05), {time.perf_counter()-t_start:.0f}s:")
    for part,rs in ratios.items():
        for ref,r in rs.items(): print(f"  {part:20s} vs {ref:40s} {r:.3f} {'ok' if r <= 1.05 else 'ABOVE TARGET'}")
    return ratios


if __name__ == '__main__':
    main()
