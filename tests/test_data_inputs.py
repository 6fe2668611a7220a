"Bad dataset folders: each one refused with one line (a `DataError` that says how to fix it), or handled correctly."
import json, shutil
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from fastai.data.external import fastai_cfg
from fastbook_ch7.data import (make_synthetic_imagenette, default_synthetic_path, check_imagenette_folder, dataset_path,
                               dataset_images, find_bad_images, get_dls, open_image, synthetic_image, DataError, SYNTH_VERSION)
from conftest import cli

@pytest.fixture
def data(tmp_path, tiny_data):
    "A private copy of the tiny synthetic dataset, free to damage"
    return Path(shutil.copytree(tiny_data, tmp_path/'data'))

def refused(path, *needles):
    "Every entry point refuses `path` with the same one-line message; return it"
    msgs = set()
    for f in (check_imagenette_folder, lambda p: dataset_path(str(p)), lambda p: get_dls(p, bs=4, size=16, presize=32)):
        with pytest.raises(DataError) as e: f(path)
        msgs.add(str(e.value))
    assert len(msgs) == 1, msgs
    msg = msgs.pop()
    assert '\n' not in msg, msg
    for n in needles: assert n in msg, (n, msg)
    return msg

def keep_classes(path, *keep):
    for s in ('train', 'val'):
        for d in (path/s).iterdir():
            if d.name not in keep: shutil.rmtree(d)

# --- one class
def test_one_class(data):
    keep_classes(data, 'star')
    refused(data, "only one class folder ('star')", 'needs at least 2 classes')

def test_two_classes_are_enough(data):
    keep_classes(data, 'star', 'ring')
    assert check_imagenette_folder(data) == ['ring', 'star']
    assert get_dls(data, bs=4, size=16, presize=32).vocab == ['ring', 'star']

# --- nested folders: images must sit directly in their class folder
def test_images_only_in_a_subfolder(data):
    cat = data/'train'/'star'
    (cat/'more').mkdir()
    for f in cat.glob('*.jpg'): f.rename(cat/'more'/f.name)
    refused(data, f"{cat/'more'} is a folder inside class folder 'star'", "fastai would label them 'more'", 'move them up')

def test_subfolder_beside_images(data):
    (data/'val'/'ring'/'extra').mkdir(); synthetic_image('ring', 32, 0).save(data/'val'/'ring'/'extra'/'x.jpg')
    refused(data, "is a folder inside class folder 'ring'")

def test_items_follow_the_same_rule(data):
    "The DataBlock's items are the images directly in class folders: a nested image is never read (nor labelled by its folder)"
    (data/'train'/'star'/'more').mkdir(); synthetic_image('star', 32, 0).save(data/'train'/'star'/'more'/'x.jpg')
    assert all(f.parent.parent.parent == data for f in dataset_images(data))
    assert len(dataset_images(data)) == 120
    (data/'train'/'star'/'.ipynb_checkpoints').mkdir()  # hidden folders are skipped, as fastai skips them
    shutil.rmtree(data/'train'/'star'/'more')
    assert check_imagenette_folder(data)
    dls = get_dls(data, bs=4, size=16, presize=32)
    assert sorted(list(map(Path, dls.train_ds.items)) + list(map(Path, dls.valid_ds.items))) == sorted(dataset_images(data))

def test_image_outside_class_folders(data):
    synthetic_image('star', 32, 0).save(data/'train'/'stray.jpg')
    refused(data, f"{data/'train'/'stray.jpg'} sits directly in {data/'train'}, outside any class folder")

# --- symlink loops
@pytest.mark.parametrize('link, target', [('train/star/loop', '../..'), ('train/star/self', '.'), ('train/loop', '..'), ('val', '.')])
def test_symlink_loop(data, link, target):
    if link == 'val': shutil.rmtree(data/'val')
    (data/link).symlink_to(target, target_is_directory=True)
    refused(data, f'{data/link} is a symbolic link to', 'a folder that contains it (a loop): remove the link')
    assert len(find_bad_images(data)) == 0  # and listing the images does not follow it for ever

def test_circular_links_are_no_folders(data):
    (data/'train'/'star'/'a.jpg').symlink_to('b.jpg'); (data/'train'/'star'/'b.jpg').symlink_to('a.jpg')
    assert sorted(f.name for f in find_bad_images(data)) == ['a.jpg', 'b.jpg']  # unreadable images, reported as such

def test_symlinked_class_folder_is_fine(data, tmp_path):
    shutil.move(data/'train'/'star', tmp_path/'elsewhere')
    (data/'train'/'star').symlink_to(tmp_path/'elsewhere', target_is_directory=True)
    assert len(check_imagenette_folder(data)) == 10 and len(dataset_images(data)) == 120

# --- 16-bit PNGs are scaled to 8 bits, not clipped to white
def test_16bit_png(data):
    ramp = np.tile(np.linspace(0, 65535, 32), (32, 1)).astype(np.uint16)
    for f in (data/'train'/'star').glob('*.jpg'): f.unlink()
    for i in range(3): Image.fromarray(ramp).save(data/'train'/'star'/f'deep{i}.png')
    assert Image.open(data/'train'/'star'/'deep0.png').mode in ('I;16', 'I')
    dls = get_dls(data, bs=4, size=16, presize=32)
    i = [Path(f).name for f in dls.train_ds.items].index('deep0.png')
    x, y = dls.train_ds[i]
    a = np.asarray(x)
    assert dls.vocab[y] == 'star' and a.shape == (32, 32, 3)
    assert np.abs(a[..., 0].astype(float) - ramp/257).max() <= 0.5
    assert (a == 255).mean() < 0.05, 'not clipped to white'
    xb, yb = dls.train.one_batch()  # and it batches with the JPEGs
    assert xb.shape[1:] == (3, 16, 16)

def test_8bit_images_unchanged(tiny_data):
    from fastai.vision.all import PILImage
    for f in dataset_images(tiny_data)[:5]: assert np.array_equal(np.asarray(open_image(f)), np.asarray(PILImage.create(f)))

# --- damaged or stale synthetic caches
@pytest.fixture
def fastai_home(tmp_path, monkeypatch):
    "fastai's default folders under tmp_path, so that the default synthetic cache is a private one"
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path/'home'))
    fastai_cfg.cache_clear()
    yield tmp_path/'home'
    fastai_cfg.cache_clear()

SMALL = dict(n_train=1, n_valid=1, size=16)
DAMAGES = {'not json': lambda m: '{"n_train": 1, ',
           'missing keys': lambda m: json.dumps({k:v for k,v in m.items() if k not in ('size', 'version')}),
           'not an object': lambda m: '[1, 2]',
           'other version': lambda m: json.dumps({**m, 'version': SYNTH_VERSION - 1})}
REASONS = {'not json': 'cannot be read', 'missing keys': "lacks the keys ['size', 'version']", 'not an object': 'lacks the keys [',
           'other version': f'was written by generator version {SYNTH_VERSION-1}, not {SYNTH_VERSION}'}

@pytest.mark.parametrize('damage', list(DAMAGES))
@pytest.mark.parametrize('label_noise', [0., 0.5])
def test_default_cache_rebuilt(fastai_home, capsys, damage, label_noise):
    p = make_synthetic_imagenette(default_synthetic_path(label_noise), label_noise=label_noise, **SMALL)
    marker = p/'synthetic.json'
    good = marker.read_text()
    marker.write_text(DAMAGES[damage](json.loads(good)))
    (p/'train'/'star'/'stale.jpg').write_bytes(b'from the old cache')
    capsys.readouterr()
    assert make_synthetic_imagenette(p, label_noise=label_noise, **SMALL) == p
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f'Rebuilding the synthetic dataset in {p}: its synthetic.json {REASONS[damage]}'), out
    assert marker.read_text() == good
    assert not (p/'train'/'star'/'stale.jpg').exists() and len(dataset_images(p)) == 20
    assert not list(p.parent.glob('*.old*')), 'the old copy is deleted'

def test_default_cache_rebuilt_through_dataset_path(fastai_home, capsys):
    p = default_synthetic_path()
    p.mkdir(parents=True); (p/'synthetic.json').write_text('garbage')
    assert dataset_path('synthetic') == p
    assert 'Rebuilding the synthetic dataset' in capsys.readouterr().out
    assert len(dataset_images(p)) == 1000 + 2500

@pytest.mark.parametrize('damage', list(DAMAGES))
def test_other_folder_refused(tmp_path, damage):
    p = make_synthetic_imagenette(tmp_path/'mine', **SMALL)
    (p/'synthetic.json').write_text(DAMAGES[damage](json.loads((p/'synthetic.json').read_text())))
    with pytest.raises(DataError) as e: make_synthetic_imagenette(p, **SMALL)
    msg = str(e.value)
    assert '\n' not in msg and msg.startswith(f"{p/'synthetic.json'} {REASONS[damage]}")
    assert msg.endswith(f'delete {p} to have it made again, or pass another `dest`')
    assert len(dataset_images(p)) == 20, 'left alone'
    with pytest.raises(DataError, match='make the dataset again with make_synthetic_imagenette'): get_dls(p, bs=4, size=16, presize=16)

def test_old_marker_without_label_noise_still_valid(tmp_path):
    "Markers written before label noise existed are clean sets of the same version: reused, not rebuilt"
    p = make_synthetic_imagenette(tmp_path/'old', **SMALL)
    m = json.loads((p/'synthetic.json').read_text())
    (p/'synthetic.json').write_text(json.dumps({k:v for k,v in m.items() if k not in ('label_noise', 'moved')}))
    mtimes = {f: f.stat().st_mtime_ns for f in p.rglob('*')}
    assert make_synthetic_imagenette(p, **SMALL) == p
    assert mtimes == {f: f.stat().st_mtime_ns for f in p.rglob('*')}

# --- the command line: exit code 2, one line, no traceback
def check_cli(res, *needles):
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    assert 'Traceback' not in res.stderr, res.stderr
    assert 'train_loss' not in res.stdout
    err = [l for l in res.stderr.splitlines() if l.startswith('fastbook_ch7: error:')]
    assert len(err) == 1, res.stderr
    for n in needles: assert n in err[0], (n, res.stderr)

def test_cli_nested_folder(data, tmp_path):
    (data/'train'/'star'/'more').mkdir(); shutil.move(data/'train'/'star'/'star_0000.jpg', data/'train'/'star'/'more')
    check_cli(cli('run', '--data', data, '--out', tmp_path/'o'), "is a folder inside class folder 'star'")

def test_cli_one_class(data, tmp_path):
    keep_classes(data, 'ring')
    check_cli(cli('run', '--data', data, '--out', tmp_path/'o'), 'needs at least 2 classes')

def test_cli_symlink_loop(data, tmp_path):
    (data/'train'/'ring'/'loop').symlink_to('..', target_is_directory=True)
    check_cli(cli('run', '--data', data, '--out', tmp_path/'o'), 'a folder that contains it (a loop)')
