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
Each ratio is from-scratch / library (of the medians); the target is <= 1.05. Next to it, the quartiles of the
ratios taken turn by turn (the two calls of one turn run back to back, under the same load) show how noisy the
machine was. torch runs on one thread to keep timings steady on a shared machine.
"""
import argparse, statistics, time
import torch, torch.nn as nn, torch.nn.functional as F
from fastai.basics import Learner, Callback, DataLoader, DataLoaders, Flatten, first
from fastai.callback.progress import ProgressCallback
from fastai.callback.mixup import MixUp
from fastai.losses import LabelSmoothingCrossEntropy, CrossEntropyLossFlat
from fastbook_ch7.mixup import MixUpFromScratch
from fastbook_ch7.smoothing import LabelSmoothingLoss

BS, N_CLASSES, SIZE, EPS = 64, 10, 32, 0.1


class BeforeBatchTimer(Callback):
    "Time of the whole before_batch event: starts first (lowest order), stopped by `BeforeBatchEnd`"
    order = -1000
    def before_batch(self): self.t0 = time.perf_counter()


class BeforeBatchEnd(Callback):
    "Ends the before_batch timing after every other callback's before_batch"
    order = 1000
    def __init__(self, timer): self.timer,self.last = timer,None
    def before_batch(self): self.last = time.perf_counter() - self.timer.t0


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), Flatten(), nn.Linear(64, N_CLASSES))


def make_dls():
    "One fixed batch as a fastai DataLoaders (no shuffling, no workers, no transforms)"
    g = torch.Generator().manual_seed(0)
    x,y = torch.randn(BS, 3, SIZE, SIZE, generator=g),torch.randint(0, N_CLASSES, (BS,), generator=g)
    items = [(x[i], y[i]) for i in range(BS)]
    dls = DataLoaders(DataLoader(items, bs=BS), DataLoader(items, bs=BS))
    dls.c = N_CLASSES
    return dls


class FunctionLoss:
    "torch's functional cross-entropy with label smoothing, with the attributes fastai looks for"
    y_int = True
    def __init__(self, eps, reduction='mean'): self.eps,self.reduction = eps,reduction
    def __call__(self, pred, y): return F.cross_entropy(pred, y, label_smoothing=self.eps, reduction=self.reduction)
    def activation(self, x): return F.softmax(x, -1)
    def decodes(self, x): return x.argmax(-1)


class TrainingStep:
    """A `Learner` held inside its training loop (the events `fit` sends before the first batch have been sent), so
    that single training batches — `Learner.one_batch`: before_batch, forward, loss, backward, step, after_batch — can
    be timed one at a time and interleaved with other learners'"""
    def __init__(self, dls, loss_func, cbs=()):
        torch.manual_seed(0)
        self.before = BeforeBatchTimer()
        self.learn = learn = Learner(dls, small_cnn(), loss_func=loss_func, cbs=[self.before, BeforeBatchEnd(self.before), *cbs])
        learn.remove_cb(ProgressCallback) if hasattr(learn, 'progress') else None
        learn.create_opt(); learn.opt.set_hypers(lr=1e-3)
        learn.n_epoch,learn.epoch,learn.dl = 1,0,dls.train
        learn.n_iter = 10**9
        for event in ('before_fit', 'before_epoch', 'before_train'): learn(event)
        self.batch = first(dls.train)

    def __call__(self):
        "Time one training step; return (whole step, before_batch event) in seconds"
        t0 = time.perf_counter()
        self.learn.one_batch(0, self.batch)
        return time.perf_counter() - t0,self.learn.cbs.filter(lambda c: isinstance(c, BeforeBatchEnd))[0].last

    def close(self):
        with self.learn.no_logging():
            for event in ('after_train', 'after_epoch', 'after_fit'): self.learn(event)


def loss_step(loss_func):
    "A function timing one forward+backward of `loss_func` on fixed `(BS, N_CLASSES)` logits"
    g = torch.Generator().manual_seed(1)
    logits,y = torch.randn(BS, N_CLASSES, generator=g).requires_grad_(),torch.randint(0, N_CLASSES, (BS,), generator=g)
    def step():
        t0 = time.perf_counter()
        loss_func(logits, y).backward()
        t = time.perf_counter() - t0
        logits.grad = None
        return t
    return step


def interleaved(steps, n, warmup=5):
    "{name: [result of each call]}: call every step in turn, `n` times, starting the turn with a different one each time"
    names = list(steps)
    for _ in range(warmup):
        for k in names: steps[k]()
    res = {k: [] for k in names}
    for i in range(n):
        for k in names[i % len(names):] + names[:i % len(names)]: res[k].append(steps[k]())
    return res


def report(title, times, ref_names, target=1.05):
    "Print medians and the ratio of the first variant to each reference; return the ratios"
    med = {k: statistics.median(v) for k,v in times.items()}
    ours = next(iter(med))
    print(f"\n{title}")
    for k,m in med.items(): print(f"  {k:45s} median {m*1e6:10.1f} µs  (n={len(times[k])})")
    ratios = {}
    for r in ref_names:
        ratios[r] = med[ours]/med[r]
        paired = statistics.quantiles([a/b for a,b in zip(times[ours], times[r])], n=4)  # same turn: same load
        print(f"  ratio {ours} / {r}: {ratios[r]:.3f}  {'<= ' if ratios[r] <= target else '> '}{target}: "
              f"{'yes' if ratios[r] <= target else 'NO'}   (per-turn ratios: median {paired[1]:.3f}, "
              f"quartiles {paired[0]:.3f}-{paired[2]:.3f})")
    return ratios


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='few repeats: a smoke run, not a measurement')
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    n_steps,n_losses = (20, 200) if args.quick else (400, 20000)
    dls = make_dls()
    print(f"small CNN, batch {BS}x3x{SIZE}x{SIZE}, {N_CLASSES} classes, eps={EPS}; {n_steps} interleaved training "
          f"steps and {n_losses} interleaved loss calls per variant (after 5 untimed), torch threads: {torch.get_num_threads()}")
    t_start,ratios = time.perf_counter(),{}

    mix = {'MixUpFromScratch(0.4)': TrainingStep(dls, CrossEntropyLossFlat(), [MixUpFromScratch(0.4)]),
           'fastai MixUp(0.4)': TrainingStep(dls, CrossEntropyLossFlat(), [MixUp(0.4)])}
    raw = interleaved(mix, n_steps)
    for m in mix.values(): m.close()
    ratios['mixup step'] = report('mixup: whole training step', {k: [s for s,_ in v] for k,v in raw.items()},
                                  ['fastai MixUp(0.4)'])
    ratios['mixup before_batch'] = report('mixup: before_batch event alone', {k: [b for _,b in v] for k,v in raw.items()},
                                          ['fastai MixUp(0.4)'])

    losses = {f'LabelSmoothingLoss({EPS})': LabelSmoothingLoss(EPS),
              f'F.cross_entropy(label_smoothing={EPS})': FunctionLoss(EPS),
              f'fastai LabelSmoothingCrossEntropy({EPS})': LabelSmoothingCrossEntropy(EPS)}
    refs = list(losses)[1:]
    steps = {k: TrainingStep(dls, lf) for k,lf in losses.items()}
    raw = interleaved(steps, n_steps)
    for m in steps.values(): m.close()
    ratios['smoothing step'] = report('label smoothing: whole training step', {k: [s for s,_ in v] for k,v in raw.items()}, refs)
    raw = interleaved({k: loss_step(lf) for k,lf in losses.items()}, n_losses)
    ratios['smoothing loss'] = report(f'label smoothing: loss forward+backward alone on ({BS}, {N_CLASSES}) logits', raw, refs)

    print(f"\nsummary (from-scratch / library, target <= 1.05), {time.perf_counter()-t_start:.0f}s:")
    for part,rs in ratios.items():
        for ref,r in rs.items(): print(f"  {part:20s} vs {ref:40s} {r:.3f} {'ok' if r <= 1.05 else 'ABOVE TARGET'}")
    return ratios


if __name__ == '__main__':
    main()
