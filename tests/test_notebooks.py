"The notebooks follow the series' rules: title, summary, Colab badge and install cell, GPU metadata, and every exported name is used by a later cell of its notebook."
import ast, json, re
import pytest
from conftest import ROOT, load_script

colab = load_script(ROOT/'tools'/'colab.py')  # it writes the Colab install cell and metadata into every notebook

NBS = sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))
EXPECTED = ['00_data', '01_baseline', '02_normalization', '03_resizing', '04_tta', '05_mixup', '06_label_smoothing', '07_ladder',
            '07a_runfolder', '07b_report', '07c_cli', '08_evidence', '09_train']
# The ladder's plumbing (run folder, report) trains nothing: no recipe to pick there
NO_RECIPE = {'07a_runfolder', '07b_report'}

def cells(nb): return [(c['cell_type'], ''.join(c['source'])) for c in json.loads(nb.read_text())['cells']]

def test_series_order():
    names = [p.stem for p in NBS]
    assert names == [n for n in EXPECTED if n in names] and names[:2] == EXPECTED[:2], names

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_title_badge_and_colab(nb):
    cs = cells(nb)
    kind, first = cs[0]
    assert kind == 'markdown' and re.match(r'# \S', first), 'starts with a title'
    assert re.search(r'^> \S', first, re.M), 'has a one-line summary'
    assert f'colab.research.google.com/github/fastbook-ch7/fastbook_ch7/blob/main/nbs/{nb.name}' in first, 'Colab badge opens this notebook'
    install = [s for k,s in cs if k=='code' and 'pip install' in s]
    assert install and '#| notest' in install[0] and "if 'COLAB_RELEASE_TAG' in os.environ:" in install[0], 'Colab-only install cell, skipped by nbdev-test'
    assert install[0] == colab.INSTALL_CELL, 'the install cell is what `python tools/colab.py` writes: run it'
    meta = json.loads(nb.read_text())['metadata']
    assert all(meta.get(k) == v for k,v in colab.COLAB_META.items()), 'Colab opens it with a GPU runtime (python tools/colab.py)'
    if nb.stem not in NO_RECIPE:
        assert any('R = recipe()' in s and 'describe()' in s for k,s in cs if k=='code'), 'one visible cell picks the recipe'

def _exported_names(src):
    tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('!', '%'))))
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith('_')]

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_exports_are_exercised(nb):
    "Each exported function or class appears in a later non-exported code cell (its test)"
    cs = [s for k,s in cells(nb) if k=='code']
    for i,s in enumerate(cs):
        if not re.search(r'^#\|\s*export\s*$', s, re.M): continue
        for name in _exported_names(s):
            later = [t for t in cs[i+1:] if not re.search(r'^#\|\s*export', t, re.M)]
            assert any(re.search(rf'\b{name}\b', t) for t in later), f'{nb.name}: {name} is never used after its definition'

def test_no_eval_false():
    for nb in NBS: assert 'eval: false' not in nb.read_text(), nb.name
