"Label noise: the synthetic stand-in's noisy folders, and Imagenette's noisy_imagenette.csv read by `get_dls`."
import hashlib, json, shutil, tarfile
from pathlib import Path
import numpy as np, pandas as pd
import pytest
from fastai.data.external import fastai_cfg
from fastbook_ch7.data import (make_synthetic_imagenette, default_synthetic_path, dataset_path, dataset_images, get_dls,
                               imagenette_path, noisy_labels, DataError, SYNTH_CLASSES, NOISE_PCTS)
from serve import serve_folder

def files_hash(folder):
    h = hashlib.sha256()
    for f in sorted(Path(folder).rglob('*.jpg')): h.update(str(f.relative_to(folder)).encode()); h.update(f.read_bytes())
    return h.hexdigest()

def misplaced(path):
    "{file name: folder} for training images that sit in a class folder other than the one they were drawn as"
    return {f.name: f.parent.name for f in (Path(path)/'train').rglob('*.jpg') if not f.name.startswith(f.parent.name + '_')}

@pytest.fixture(scope='module')
def clean(tmp_path_factory):
    return make_synthetic_imagenette(tmp_path_factory.mktemp('clean')/'d', n_train=5, n_valid=2, size=24, seed=3)

def noisy(tmp_path, label_noise, seed=3, name='noisy'):
    return make_synthetic_imagenette(tmp_path/name, n_train=5, n_valid=2, size=24, seed=seed, label_noise=label_noise)

@pytest.mark.parametrize('label_noise', [0.02, 0.05, 0.25, 0.5, 1.0])
def test_exact_fraction_moved(tmp_path, clean, label_noise):
    p = noisy(tmp_path, label_noise)
    moved, marker = misplaced(p), json.loads((p/'synthetic.json').read_text())
    assert len(moved) == round(label_noise * 50)
    assert marker['label_noise'] == label_noise and marker['moved'] == moved
    assert len(list((p/'train').rglob('*.jpg'))) == 50, 'images are moved, never copied or lost'
    for name, folder in moved.items():
        drawn = name.rsplit('_', 1)[0]
        assert drawn in SYNTH_CLASSES and folder != drawn
        assert (p/'train'/folder/name).read_bytes() == (clean/'train'/drawn/name).read_bytes(), 'the same image, only in another folder'
    assert files_hash(p/'val') == files_hash(clean/'val'), 'validation is untouched'

def test_reproducible_from_seed(tmp_path):
    a, b, c = noisy(tmp_path, 0.3, name='a'), noisy(tmp_path, 0.3, name='b'), noisy(tmp_path, 0.3, seed=4, name='c')
    assert misplaced(a) == misplaced(b) and files_hash(a) == files_hash(b)
    assert misplaced(a) != misplaced(c)
    assert len(misplaced(c)) == 15

def test_spread_across_classes(tmp_path):
    moved = misplaced(noisy(tmp_path, 0.5))
    assert len({n.rsplit('_', 1)[0] for n in moved}) >= 5, 'drawn from all training images, not from one class'

def test_noisy_folder_is_its_own(tmp_path):
    p = noisy(tmp_path, 0.25)
    with pytest.raises(DataError, match='other parameters'): make_synthetic_imagenette(p, n_train=5, n_valid=2, size=24, seed=3)
    assert default_synthetic_path(0.25).name == 'synthetic_imagenette_noise25'
    assert default_synthetic_path(0.).name == 'synthetic_imagenette'
    assert default_synthetic_path(0.25).parent == default_synthetic_path().parent

@pytest.mark.parametrize('bad', [-0.1, 1.5])
def test_noise_out_of_range(tmp_path, bad):
    with pytest.raises(DataError, match='0<=label_noise<=1'): noisy(tmp_path, bad)

def test_dataset_path_synthetic_noise(tmp_path, monkeypatch):
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path/'home'))
    fastai_cfg.cache_clear()
    try:
        p = dataset_path('synthetic', label_noise=0.05)
        assert p == tmp_path/'home'/'data'/'synthetic_imagenette_noise5'
        assert len(misplaced(p)) == 50  # 5 % of 1000
        assert json.loads((p/'synthetic.json').read_text())['label_noise'] == 0.05
        assert dataset_path('synthetic', label_noise=0.05) == p
    finally: fastai_cfg.cache_clear()

def test_get_dls_on_synthetic_noise(tmp_path, clean):
    p = noisy(tmp_path, 0.25)
    dls = get_dls(p, bs=8, size=16, presize=24, label_noise=0.25)
    moved = misplaced(p)
    labels = {Path(f).name: dls.vocab[dls.train_ds.tls[1][i]] for i,f in enumerate(dls.train_ds.items)}
    assert sum(labels[n] != n.rsplit('_', 1)[0] for n in labels) == len(moved) == 12
    with pytest.raises(DataError, match=r'made with label_noise=0.25, not 0'): get_dls(p, label_noise=0.)
    with pytest.raises(DataError, match=r'made with label_noise=0.25, not 0.05'): get_dls(p, label_noise=0.05)
    with pytest.raises(DataError, match=r'made with label_noise=0.0, not 0.25'): get_dls(clean, label_noise=0.25)
    with pytest.raises(DataError, match=r'made with label_noise=0.0, not 0.25'): dataset_path(str(clean), label_noise=0.25)

def test_no_csv_no_marker_refused(tmp_path, clean):
    d = shutil.copytree(clean, tmp_path/'plain'); (d/'synthetic.json').unlink()
    with pytest.raises(DataError, match='has no noisy_imagenette.csv') as e: get_dls(d, label_noise=0.25)
    assert '\n' not in str(e.value)
    assert noisy_labels(d) is None

def write_noisy_csv(path, seed=0):
    """Imagenette's noisy_imagenette.csv for `path`; each noisy column changes about pct % of the training labels.
    Validation rows get a *wrong* label in every noisy column, to show that validation labels come from the folders."""
    rng, files = np.random.default_rng(seed), dataset_images(path)
    wrong = lambda c: str(rng.choice([o for o in SYNTH_CLASSES if o != c]))
    df = pd.DataFrame({'path': [f.relative_to(path).as_posix() for f in files]})
    valid = [f.parent.parent.name == 'val' for f in files]
    for pct in (0,) + NOISE_PCTS:
        df[f'noisy_labels_{pct}'] = [wrong(f.parent.name) if v or (pct and rng.random() < pct/100) else f.parent.name for f,v in zip(files, valid)]
    df['is_valid'] = valid
    df.to_csv(path/'noisy_imagenette.csv', index=False)
    return df

def test_untar_imagenette_with_noisy_csv(tmp_path):
    src = make_synthetic_imagenette(tmp_path/'src'/'imagenette2-160', n_train=4, n_valid=2, size=24)
    (src/'synthetic.json').unlink()  # like Imagenette: a csv, no marker
    csv = write_noisy_csv(src)
    (tmp_path/'www').mkdir()
    with tarfile.open(tmp_path/'www'/'imagenette2-160.tgz', 'w:gz') as t: t.add(src, arcname='imagenette2-160')
    with serve_folder(tmp_path/'www') as url:
        p = imagenette_path(url=f'{url}/imagenette2-160.tgz', base=tmp_path/'fastai_home')
    assert (p/'noisy_imagenette.csv').exists()
    train, val = csv[~csv.is_valid], csv[csv.is_valid]
    for pct in (25, 50):
        dls = get_dls(p, bs=8, size=16, presize=24, label_noise=pct/100)
        got = {Path(f).relative_to(p).as_posix(): dls.vocab[y] for f,(x,y) in zip(dls.train_ds.items.file, dls.train_ds)}
        assert got == dict(zip(train.path, train[f'noisy_labels_{pct}']))
        assert sum(Path(k).parent.name != v for k,v in got.items()) > 0, 'the csv changes some training labels'
        vgot = {Path(f).relative_to(p).as_posix(): dls.vocab[y] for f,(x,y) in zip(dls.valid_ds.items.file, dls.valid_ds)}
        assert vgot == {k: Path(k).parent.name for k in val.path}, 'validation: the val folder, with its folder labels'
    clean = get_dls(p, bs=8, size=16, presize=24)
    assert len(clean.train_ds) == len(train) and len(clean.valid_ds) == len(val)
    for bad in (0.1, 0.3, 25):
        with pytest.raises(DataError, match=r'use one of \[0.01, 0.05, 0.25, 0.5\]') as e: get_dls(p, label_noise=bad)
        assert '\n' not in str(e.value)

def test_csv_skip(tmp_path):
    p = make_synthetic_imagenette(tmp_path/'d', n_train=2, n_valid=1, size=24); (p/'synthetic.json').unlink()
    write_noisy_csv(p)
    dls = get_dls(p, bs=4, size=16, presize=24, label_noise=0.05, skip=[p/'val'/'star'/'star_0000.jpg', p/'train'/'ring'/'ring_0001.jpg'])
    assert (len(dls.train_ds), len(dls.valid_ds)) == (19, 9)

@pytest.mark.parametrize('change, message', [
    (lambda df: df.assign(path=df.path.str.replace('train/star/star_0000.jpg', 'train/star/more/star_0000.jpg', regex=False)), 'not images directly in'),
    (lambda df: df.iloc[1:], 'does not list 1 image'),
    (lambda df: df.assign(noisy_labels_25='unicorn'), "no class folder"),
    (lambda df: df.drop(columns='noisy_labels_25'), "has no 'path' and 'noisy_labels_25' columns"),
])
def test_bad_csv(tmp_path, change, message):
    p = make_synthetic_imagenette(tmp_path/'d', n_train=2, n_valid=1, size=24); (p/'synthetic.json').unlink()
    change(write_noisy_csv(p)).to_csv(p/'noisy_imagenette.csv', index=False)
    with pytest.raises(DataError, match=message) as e: get_dls(p, label_noise=0.25)
    assert '\n' not in str(e.value)

def test_imagenette_names_refuse_unknown_noise_before_download(tmp_path):
    with pytest.raises(DataError, match='use one of'): dataset_path('imagenette-160', label_noise=0.2)
