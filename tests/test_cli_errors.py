"""Every bad input to `fastbook_ch7 run` is one clear line on stderr and exit code 2, with no traceback and no training.

Most cases call the command's `main` in the test process (`cli_in_process`: no new Python to start); the console script
itself, started as a user starts it, is exercised by the cases that use `cli`."""
import shutil
import pytest
from conftest import cli, cli_in_process, TINY

def check_error(res, *needles):
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    assert 'Traceback' not in res.stderr, res.stderr
    assert 'train_loss' not in res.stdout, 'no training may start before the inputs are checked'
    for n in needles: assert n in res.stderr, (n, res.stderr)

def test_unknown_stage(tmp_path, tiny_data):
    check_error(cli('run', '--data', tiny_data, '--stages', 'baseline,warp_speed', '--out', tmp_path/'o'), "Unknown stage(s) ['warp_speed']", 'choose from')

def test_unknown_data(tmp_path):
    check_error(cli('run', '--data', 'imagenet-21k', '--out', tmp_path/'o'), "'imagenet-21k' is neither one of", 'synthetic')

def test_missing_folder(tmp_path):
    check_error(cli_in_process('run', '--data', tmp_path/'nope', '--out', tmp_path/'o'), 'is neither one of')

def test_not_imagenette_layout(tmp_path):
    (tmp_path/'flat').mkdir(); (tmp_path/'flat'/'a.jpg').write_bytes(b'')
    check_error(cli_in_process('run', '--data', tmp_path/'flat', '--out', tmp_path/'o'), "has no 'train' folder", "Imagenette's layout")

def test_empty_class_folder(tmp_path, tiny_data):
    d = tmp_path/'data'; shutil.copytree(tiny_data, d)
    (d/'train'/'unicorn').mkdir()
    check_error(cli_in_process('run', '--data', d, '--out', tmp_path/'o'), 'unicorn has no images')

def test_corrupt_images_refused_then_skipped(tmp_path, tiny_data):
    d = tmp_path/'data'; shutil.copytree(tiny_data, d)
    bad = d/'train'/'star'/'broken.jpg'; bad.write_bytes(b'this is not a jpeg')
    check_error(cli('run', '--data', d, '--out', tmp_path/'o', *TINY), '1 image file(s)', 'broken.jpg', '--skip-bad-images')
    res = cli('run', '--data', d, '--out', tmp_path/'o2', *TINY, '--stages', 'baseline', '--skip-bad-images')
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'skipping 1 unreadable image(s)' in res.stdout
    assert (tmp_path/'o2'/'results.csv').exists()

@pytest.mark.parametrize('flag', ['--epochs', '--bs', '--size'])
@pytest.mark.parametrize('value', ['0', '-3'])
def test_non_positive(tmp_path, tiny_data, flag, value):
    check_error(cli_in_process('run', '--data', tiny_data, '--out', tmp_path/'o', flag, value), flag, 'must be positive')

def test_unwritable_out(tmp_path, tiny_data):
    (tmp_path/'file').write_text('a file, not a folder')
    check_error(cli_in_process('run', '--data', tiny_data, '--out', tmp_path/'file'/'out'), 'Cannot write to --out', 'writable folder')

def test_size_larger_than_presize(tmp_path, tiny_data):
    check_error(cli_in_process('run', '--data', tiny_data, '--out', tmp_path/'o', '--cpu', '--size', '4096'), 'size 4096 is out of range', 'the presize is 96')

@pytest.mark.parametrize('args,needle', [
    (['--epochs', '1000000000'], 'epochs 1000000000 is out of range: use [1, 1000]'),
    (['--lr', 'nan'], 'lr nan is out of range'), (['--lr', 'inf'], 'lr inf is out of range'),
    (['--lr', '1e308'], 'a learning rate above 10 diverges'),
    (['--seed', '-1'], 'seed -1 is out of range'), (['--seed', str(2**32)], f'seed {2**32} is out of range'),
    (['--size', '8'], 'size 8 is out of range: use [16, 96]'), (['--size', '1'], 'size 1 is out of range'),
    (['--ls-eps', '1'], 'ls_eps 1.0 is out of range'), (['--tta-n', '0'], 'tta_n 0 is out of range'),
    (['--mixup-alpha', '-1'], 'mixup_alpha -1.0 is out of range'), (['--label-noise', '1.5'], 'label_noise 1.5 is out of range')])
def test_recipe_out_of_range(tmp_path, tiny_data, args, needle):
    "Refused when the recipe is made: before the data are read or anything is written"
    check_error(cli_in_process('run', '--data', tiny_data, '--out', tmp_path/'o', '--cpu', *args), needle)
    assert not (tmp_path/'o').exists()

def test_unknown_arch(tmp_path, tiny_data):
    check_error(cli_in_process('run', '--data', tiny_data, '--out', tmp_path/'o', '--arch', 'resnet9000'), "Unknown arch 'resnet9000'")

def test_no_network_for_imagenette(tmp_path):
    # a fresh FASTAI_HOME has no cached copy; a proxy on a closed loopback port makes the network unreachable
    # here as on a machine with internet access
    off = 'http://127.0.0.1:9'
    res = cli('run', '--data', 'imagenette-160', '--out', tmp_path/'o',
              env={'FASTAI_HOME': str(tmp_path/'fastai'), 'https_proxy': off, 'http_proxy': off, 'HTTPS_PROXY': off, 'HTTP_PROXY': off})
    check_error(res, 'Could not download https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz', 'make_synthetic_imagenette')

def test_list_stages():
    res = cli('run', '--list')
    assert res.returncode == 0
    assert [l.split()[0] for l in res.stdout.splitlines()][:2] == ['baseline', 'normalize']
