"""The full recipe's path, exercised on a CPU: `fastbook_ch7 run --gpu` with every stage, and the notebooks' `#| cuda` cells,
on an Imagenette-format tarball of real-size JPEGs downloaded by fastai's `untar_data` from 127.0.0.1.

Only the counts shrink (2 classes, 2 training and 2 validation images each, 1 epoch, batch size 4); the recipe's sizes
(presize 460, size 224, progressive 128→224), its model (xresnet50) and its data path (`--data imagenette`, through
`untar_data`, from the URL that `FASTBOOK_CH7_IMAGENETTE_MIRROR` points at our server) are the chapter's own."""
import ast, re, symtable, tarfile
import numpy as np, pandas as pd
import pytest
from PIL import Image
from conftest import ROOT, cli
from serve import serve_folder

pytestmark = pytest.mark.slow

CLASSES = ('n01440764', 'n03394916')   # Imagenette's tench and French horn folders
N_TRAIN, N_VALID = 2, 2           # 4 training images: one batch of 4
SHRINK = dict(epochs=1, bs=4)          # the only numbers of the full recipe that change
# Imagenette's images: 333-500 px a side, landscape and portrait, some grayscale and some CMYK
SHAPES = [(500, 375), (375, 500), (500, 333), (354, 500), (500, 500), (467, 350)]
MODES = ['RGB', 'L', 'RGB', 'CMYK', 'RGB', 'RGB']

def real_size_jpeg(fn, cls_i, i, rng):
    "A JPEG of Imagenette's size and kind: a smooth colour field with a class-coloured blob, in one of `SHAPES` and `MODES`"
    w,h = SHAPES[i % len(SHAPES)]
    field = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    a = np.asarray(field, dtype=np.float32)
    yy,xx = np.mgrid[:h, :w]
    cx,cy,r = rng.uniform(.3, .7)*w, rng.uniform(.3, .7)*h, rng.uniform(.15, .3)*min(w, h)
    blob = ((xx-cx)**2 + (yy-cy)**2 < r*r)[..., None]
    a = np.where(blob, np.array([[[220, 60, 40]], [[40, 80, 220]]][cls_i], dtype=np.float32), a) + rng.normal(0, 8, a.shape)
    im = Image.fromarray(a.clip(0, 255).astype(np.uint8)).convert(MODES[i % len(MODES)])
    im.save(fn, format='JPEG', quality=90)

def make_imagenette_tarball(www, name='imagenette2'):
    "`www/name.tgz` in Imagenette's layout: `name/{train,val}/<wnid>/*.JPEG` and `name/noisy_imagenette.csv`"
    src,rng,rows = www.parent/'src'/name,np.random.default_rng(0),[]
    for split,n in (('train', N_TRAIN), ('val', N_VALID)):
        for ci,c in enumerate(CLASSES):
            (src/split/c).mkdir(parents=True)
            for i in range(n):
                rel = f'{split}/{c}/{c}_{split}_{i}.JPEG'
                real_size_jpeg(src/rel, ci, i + (ci*3 if split == 'train' else 1), rng)
                rows.append(dict(path=rel, label=c, is_valid=split == 'val'))
    df = pd.DataFrame(rows)
    for pct in (0, 1, 5, 25, 50):  # like Imagenette's csv: pct % of the training labels wrong (here: the first ones)
        wrong = df.index[~df.is_valid][:round(pct/100*(~df.is_valid).sum())]
        df[f'noisy_labels_{pct}'] = [CLASSES[1-CLASSES.index(l)] if j in wrong else l for j,l in zip(df.index, df.label)]
    df.drop(columns='label')[['path', *(f'noisy_labels_{p}' for p in (0, 1, 5, 25, 50)), 'is_valid']].to_csv(src/'noisy_imagenette.csv', index=False)
    www.mkdir(exist_ok=True)
    with tarfile.open(www/f'{name}.tgz', 'w:gz') as t: t.add(src, arcname=name)
    return www/f'{name}.tgz'

@pytest.fixture(scope='module')
def mirror(tmp_path_factory):
    "The base URL of a server on 127.0.0.1 with `imagenette2.tgz`, the file `--data imagenette` downloads"
    www = tmp_path_factory.mktemp('mirror')/'www'
    make_imagenette_tarball(www)
    with serve_folder(www) as url: yield url

def check_download(home):
    "The dataset was downloaded and extracted by `untar_data` into `home`, and has Imagenette's kinds of images"
    assert (home/'archive'/'imagenette2.tgz').is_file(), 'downloaded into fastai\'s archive folder'
    data = home/'data'/'imagenette2'
    ims = [Image.open(f) for f in sorted(data.rglob('*.JPEG'))]
    assert len(ims) == len(CLASSES)*(N_TRAIN + N_VALID)
    assert {im.mode for im in ims} == {'RGB', 'L', 'CMYK'}
    assert {im.width > im.height for im in ims} == {True, False} and min(min(im.size) for im in ims) >= 333

def test_full_recipe_cli(mirror, tmp_path):
    from fastbook_ch7.ladder import STAGES
    home,out = tmp_path/'fastai_home',tmp_path/'results'
    env = {'FASTBOOK_CH7_IMAGENETTE_MIRROR': mirror, 'FASTAI_HOME': str(home), 'OMP_NUM_THREADS': '1'}
    r = cli('run', '--gpu', '--data', 'imagenette', '--stages', ','.join(STAGES), '--bs', SHRINK['bs'], '--epochs', SHRINK['epochs'],
            '--out', out, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert 'full recipe — xresnet50 on imagenette, 1 epochs at 224px (presize 460), bs 4' in r.stdout
    check_download(home)
    assert (out/'results.md').is_file() and (out/'results.md').read_text() in r.stdout
    df = pd.read_csv(out/'results.csv')
    assert set(df.stage) == set(STAGES), 'every stage ran and is reported'
    assert df.accuracy.between(0, 1).all()

# ---- the notebooks' `#| cuda` cells ----

def _aug_targets(code):
    "Names a cell updates from their previous value: `x += 1`, and `x = f(x)`"
    out = set()
    for n in ast.walk(ast.parse(code)):
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name): out.add(n.target.id)
        elif isinstance(n, ast.Assign):
            read = {m.id for m in ast.walk(n.value) if isinstance(m, ast.Name)}
            out |= {t.id for t in n.targets if isinstance(t, ast.Name) and t.id in read}
    return out

def cell_names(src):
    "(names a cell binds at top level, names it reads from the notebook's namespace, whether it has a star import)"
    code = '\n'.join('' if l.lstrip().startswith(('!', '%')) else l for l in src.splitlines())
    top = symtable.symtable(code, '<cell>', 'exec')
    binds = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    reads = set()
    def walk(t):
        for s in t.get_symbols():
            if s.is_referenced() and (t is top or s.is_global()): reads.add(s.get_name())
        for c in t.get_children(): walk(c)
    walk(top)
    reads -= binds - _aug_targets(code)  # a name the cell binds is its own, unless it updates it (x += 1)
    return binds, reads, bool(re.search(r'^\s*from\s+\S+\s+import\s+\*', code, re.M))

def needed_cells(cells, targets):
    """The indices of the cells to run for the cells `targets`: those, every star-import cell before them, and, going back,
    the latest cell that binds each name a kept cell reads (a static dependency closure: the cells a `#| cuda` cell needs)"""
    info,keep,want = [cell_names(c.source) for c in cells],set(),set()
    for i in range(max(targets), -1, -1):
        binds,reads,star = info[i]
        if i in targets or star or binds & want: keep.add(i); want = (want - binds) | reads
    return sorted(keep)

def test_needed_cells():
    src = ['from os import *', 'a = 1\nb = 2', 'c = a', 'a = 5', 'd = 1\nd += b', 'def f(): return c + d', 'r = 0\nr = f()', 'z = 9']
    cells = [type('Cell', (), dict(source=s))() for s in src]
    assert needed_cells(cells, {6}) == [0, 1, 2, 4, 5, 6], 'c needs the first a; a = 5 and z = 9 are not needed'
    cells = [type('Cell', (), dict(source=s))() for s in ['R = 1', 'R = str(R)', 'y = R']]
    assert needed_cells(cells, {2}) == [0, 1, 2], 'R = str(R) updates R: the cell that made R is needed too'

CUDA_NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if re.search(r'^\s*"#\|\s*cuda\b', p.read_text(), re.M))

@pytest.mark.parametrize('nb', CUDA_NBS, ids=lambda p: p.stem)
def test_cuda_cells(nb, mirror, tmp_path, monkeypatch):
    """Each `#| cuda` cell, with the cells it needs, under the full recipe shrunk: what a GPU runtime runs, but on 8 images.
    The rest of the notebook is left out: its claims about results (mixup's higher training loss, ...) need real training."""
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    from nbdev.test import nb_test_cells
    from fastai.data.external import fastai_cfg
    import fastbook_ch7.baseline as baseline
    full = baseline.recipe
    # and no DataLoader worker processes: forked from pytest's big process they cost more than the cells (test_full_recipe_cli runs them)
    shrunk = dict(SHRINK, num_workers=0)
    monkeypatch.setattr(baseline, 'recipe', lambda gpu=None, **kw: full(True if gpu is None else gpu, **{**shrunk, **kw}))
    monkeypatch.setenv('FASTBOOK_CH7_IMAGENETTE_MIRROR', mirror)
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path/'fastai_home'))
    monkeypatch.setenv('IN_TEST', '1')
    fastai_cfg.cache_clear()
    skip = get_config().tst_flags
    cells = nb_test_cells(nb, skip.split() if isinstance(skip, str) else skip, ['cuda'])  # as `nbdev-test --flags cuda`
    cuda = {i for i,c in enumerate(cells) if 'cuda' in (c.directives_ or {})}
    assert cuda
    shell = CaptureShell(nb)
    try:
        with working_directory(nb.parent):
            for i in needed_cells(cells, cuda):
                shell.cell(cells[i])
                assert shell.exc is None, shell.prettytb(fname=nb)
        R = shell.user_ns['R']
        assert (R.gpu, R.arch, R.data, R.size, R.presize, R.epochs, R.bs) == (True, 'xresnet50', 'imagenette', 224, 460, 1, 4)
        check_download(tmp_path/'fastai_home')
        assert all(cells[i].outputs for i in cuda), 'each cuda cell printed its results'
    finally:
        shell.close()
        fastai_cfg.cache_clear()
