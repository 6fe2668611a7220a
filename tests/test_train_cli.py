"`fastbook_ch7 train` from the command line: a short CPU training keeps sane weights and metrics; every bad flag is one line and exit code 2."
import hashlib, json, math
import pytest
import torch
from conftest import cli, cli_in_process

SHORT = ['--cpu', '--bs', '16', '--epochs', '1', '--sizes', '16']  # the CPU recipe, one epoch at 16 px on `tiny_data`: seconds

def check_saved(out, epochs, sizes):
    "The metrics `out` holds, after checking them and the weights they name"
    assert sorted(p.name for p in out.iterdir()) == ['metrics.json', 'model.pth'], 'no temporary file left behind'
    m = json.loads((out/'metrics.json').read_text())
    assert 0 <= m['accuracy'] <= 1 and math.isclose(m['accuracy'] + m['error_rate'], 1, abs_tol=1e-3) and 0 <= m['ece'] <= 1
    assert all(math.isfinite(m[k]) and m[k] > 0 for k in ('train_loss', 'valid_loss')), m
    assert (m['epochs'], m['sizes'], len(m['curve']), m['n_valid']) == (epochs, sizes, epochs, 40)
    assert [e['size'] for e in m['curve']][-1] == sizes[-1]
    assert m['weights'] == 'model.pth' and m['weights_sha256'] == hashlib.sha256((out/'model.pth').read_bytes()).hexdigest()
    sd = torch.load(out/'model.pth', map_location='cpu', weights_only=True)
    assert sd and all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())
    return m

def test_short_training(tmp_path, tiny_data):
    out = tmp_path/'out'
    res = cli('train', '--data', tiny_data, *SHORT, '--ls-eps', '0.1', '--out', out)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'mixup α 0.4, label smoothing ε 0.1' in res.stdout and f'saved {out}/model.pth' in res.stdout
    m = check_saved(out, 1, [16])
    assert (m['mixup_alpha'], m['ls_eps'], m['recipe']['arch'], m['device']) == (0.4, 0.1, 'xresnet18', 'cpu')

def test_progressive_without_mixup(tmp_path, tiny_data):
    "Two sizes: the small one's epochs, fine_tune's frozen epoch, the final size's; --mixup-alpha 0 is no mixup"
    out = tmp_path/'out'
    res = cli('train', '--data', tiny_data, '--cpu', '--bs', '16', '--epochs', '3', '--sizes', '16,24', '--mixup-alpha', '0', '--out', out)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'mixup off, label smoothing off' in res.stdout
    m = check_saved(out, 3, [16, 24])
    assert [e['size'] for e in m['curve']] == [16, 24, 24] and m['mixup_alpha'] == 0

@pytest.mark.parametrize('args,needle', [
    (['--mixup-alpha', '-1'], 'mixup_alpha -1.0 is out of range: use [0, 100] (0: no mixup)'),
    (['--sizes', '64,32'], 'sizes 64,32 must increase, the small one first: use 32,64'),
    (['--sizes', '16,x'], "sizes '16,x' are not whole numbers of pixels: use one size (e.g. 224) or small,final (e.g. 128,224)"),
    (['--sizes', '16,24', '--epochs', '2'], 'epochs 2 are too few for progressive resizing'),
    (['--bs', '500'], 'batch size 500 is larger than the 80 training images: use --bs 80 or less')])
def test_bad_flags(tmp_path, tiny_data, args, needle):
    "Refused with one line on stderr and exit code 2, before any training (and before --out is made, but for the batch size)"
    out = tmp_path/'out'
    res = cli_in_process('train', '--data', tiny_data, *SHORT, *args, '--out', out)
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('fastbook_ch7: error: '), res.stderr
    assert needle in res.stderr and 'Traceback' not in res.stderr, res.stderr
    assert 'train_loss' not in res.stdout, 'no training may start before the inputs are checked'
    assert not out.exists() or not any(out.iterdir())

def test_unwritable_out(tmp_path, tiny_data):
    (tmp_path/'file').write_text('a file, not a folder')
    res = cli('train', '--data', tiny_data, *SHORT, '--out', tmp_path/'file'/'out')
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert 'Cannot write to --out' in res.stderr and 'choose a writable folder' in res.stderr
