"EpochLog keeps a fit's last validation, so the ladder's row does not predict the validation set a second time."
import pytest, torch
from fastbook_ch7.baseline import recipe
from fastbook_ch7.ladder import STAGES, Ladder
from fastbook_ch7.mixup import MixUpFromScratch
from fastbook_ch7.smoothing import LabelSmoothingLoss

class _Run:
    "A run folder stand-in: the stages tested here load nothing"

@pytest.mark.parametrize('kw', [{}, dict(loss_func=LabelSmoothingLoss(0.1)), dict(cbs=MixUpFromScratch(0.4))],
                         ids=['cross_entropy', 'label_smoothing', 'mixup'])
@pytest.mark.parametrize('every', [False, True], ids=['valid_last', 'valid_every_epoch'])
def test_last_validation_is_what_get_preds_returns(tiny_data, kw, every):
    R = recipe(gpu=False, size=16, presize=32, bs=16, epochs=2, valid_every_epoch=every)
    lad = Ladder(R, tiny_data, _Run(), bars=False, log=lambda *a: None)
    lad.stage = STAGES['normalize']
    learn = lad.learner(lad.dls(), **kw)
    learn.fit_one_cycle(R.epochs, R.lr)
    log = learn.cbs.filter(lambda c: type(c).__name__ == 'EpochLog')[0]
    p,t = learn.get_preds(dl=learn.dls.valid)
    assert torch.allclose(log.preds[0], p, atol=1e-6) and torch.equal(log.preds[1], t)  # probabilities (the loss's activation), targets
    assert torch.allclose(p.sum(1), torch.ones(len(p)))
    learn.get_preds = lambda *a, **k: pytest.fail('row predicted the validation set again')
    row = lad.row(learn, 1., R.epochs, '16')
    assert row['accuracy'] == round((p.argmax(1) == t).float().mean().item(), 4) and row['n_valid'] == len(t)
    assert row['accuracy'] == pytest.approx(log.epochs[-1]['accuracy'], abs=1e-4)  # the curve's last point is the same validation

def test_preds_reset_when_training_again(tiny_data):
    "A second fit (fine_tune's unfrozen one, progressive resizing's next size) replaces the first fit's predictions"
    R = recipe(gpu=False, size=16, presize=32, bs=16, epochs=1)
    lad = Ladder(R, tiny_data, _Run(), bars=False, log=lambda *a: None)
    learn = lad.learner(lad.dls())
    learn.fit_one_cycle(1, R.lr)
    log = learn.cbs.filter(lambda c: type(c).__name__ == 'EpochLog')[0]
    first = log.preds[0].clone()
    learn.fit_one_cycle(1, R.lr)
    assert not torch.allclose(first, log.preds[0])
    assert torch.allclose(log.preds[0], learn.get_preds(dl=learn.dls.valid)[0], atol=1e-6)
