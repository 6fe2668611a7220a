"tools/run_notebooks.py saves notebooks with clean outputs; tools/check_outputs.py and tools/check_docs.py catch what goes stale"
import json, os, shutil, subprocess, sys
import pytest
from conftest import BIN, ROOT, load_script

co = load_script(ROOT/'tools'/'check_outputs.py')
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE'}

def tool(name, *args):
    "Run tools/`name`.py from the project root"
    return subprocess.run([sys.executable, str(ROOT/'tools'/f'{name}.py'), *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)

def code(src): return dict(cell_type='code', source=src, metadata={}, outputs=[], execution_count=None)

def write_nb(path, *srcs):
    "A notebook at `path`: a markdown title, then a code cell per source"
    cells = [dict(cell_type='markdown', source='# Fixture\n> A tiny notebook', metadata={})] + [code(s) for s in srcs]
    path.write_text(json.dumps(dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)))
    return path

SRCS = ['#| export\ndef greet(name):\n    "Say hello to `name`"\n    return f"hello {name}"',  # 1
        "print(greet('you'))",                                                   # 2: prints
        '1 + 1',                                                                 # 3: ends in an expression
        'x = 3',                                                                 # 4: shows nothing
        "#| notest\nraise Exception('nbdev-test skips this cell')",              # 5
        '#| hide\ny = x * 2',                                                    # 6
        'import warnings\nimport fastprogress.fastprogress as fp\nimport matplotlib.pyplot as plt\nimport pandas as pd',
        "fp.printing = lambda: True  # bars drawn as in a terminal\nfor i in fp.progress_bar(range(3)): pass\n"
        "warnings.warn('noise')\nprint('done')",                                  # 8: only 'done' is kept
        'plt.figure(figsize=(2, 2), dpi=50)\nplt.plot([1, 2, 3]);',              # 9: a PNG
        "pd.DataFrame({'a': [1, 2]})"]                                           # 10: a table

@pytest.fixture(scope='module')
def ran(tmp_path_factory):
    "The fixture notebook, saved with its outputs by tools/run_notebooks.py"
    nb = write_nb(tmp_path_factory.mktemp('nbs')/'fixture.ipynb', *SRCS)
    r = tool('run_notebooks', nb)
    assert r.returncode == 0, r.stderr
    return nb

def cells(nb): return json.loads(nb.read_text())['cells']
def text(c): return ''.join(''.join(o.get('text', '')) for o in c['outputs'])

def test_saved_outputs(ran):
    cs = cells(ran)
    assert text(cs[2]) == 'hello you\n' and cs[3]['outputs'][0]['data']['text/plain'] == ['2'] and cs[4]['outputs'] == []
    assert text(cs[8]) == 'done\n' and [o['name'] for o in cs[8]['outputs']] == ['stdout'], 'no bars, no stderr'
    assert 'image/png' in cs[9]['outputs'][0]['data'] and '<table' in ''.join(cs[10]['outputs'][0]['data']['text/html'])
    assert 'fastbook_src' not in cs[5]['metadata'] and cs[5]['outputs'] == [], 'the notest cell is skipped'
    for c in cs[1:]:
        if c is not cs[5]: assert c['metadata']['fastbook_src'] == co.src_hash(c['source'])
        assert c['execution_count'] is None and all(o.get('execution_count') is None for o in c['outputs'])
    r = tool('check_outputs', ran)
    assert r.returncode == 0 and r.stdout == 'check_outputs: 1 notebooks, 9 cells ok\n', r.stdout

def test_nbdev_clean_keeps_it(ran, tmp_path):
    nb = shutil.copy(ran, tmp_path/'copy.ipynb')
    subprocess.run([str(BIN/'nbdev-clean'), '--fname', str(nb)], cwd=ROOT, check=True, env=ENV)
    assert nb.read_text() == ran.read_text(), 'run_notebooks saves what nbdev-clean leaves, fastbook_src included'

def test_stale_outputs_fail(ran, tmp_path):
    def mutate(name, f):
        nb = json.loads(ran.read_text())
        f(nb['cells'])
        (tmp_path/name).write_text(json.dumps(nb))
        return tmp_path/name
    edited = mutate('edited.ipynb', lambda cs: cs[3].update(source=['1 + 2']))
    cleared = mutate('cleared.ipynb', lambda cs: cs[2].update(outputs=[]))
    bar = dict(output_type='stream', name='stdout', text=['Epoch 1/1 : |████----| 50.00% [2/4 00:01<00:01]\n'])
    barred = mutate('barred.ipynb', lambda cs: cs[4]['outputs'].append(bar))
    r = tool('check_outputs', ran, edited, cleared, barred)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        f"{edited}: cell 3 ('1 + 2'): saved outputs do not come from its current source: run tools/run_notebooks.py {edited}",
        f"{cleared}: cell 2 (\"print(greet('you'))\"): should show something but has no output: run tools/run_notebooks.py {cleared}",
        f"{barred}: cell 4 ('x = 3'): a saved output holds a progress bar: run tools/run_notebooks.py {barred}"]

def test_raising_cell(tmp_path):
    nb = write_nb(tmp_path/'raises.ipynb', 'x = 1', '1/0', "print('never')")
    before = nb.read_text()
    r = tool('run_notebooks', nb)
    assert r.returncode == 1 and nb.read_text() == before
    assert r.stderr.splitlines() == [f"run_notebooks: {nb}: cell 2 ('1/0') raised ZeroDivisionError: division by zero"]

@pytest.mark.parametrize('src,shows', [('x', True), ('x;', False), ('x = 1', False), ("test_eq(1, 1)", False),
    ('assert_close(a, b)', False), ("print(1)\ntest_eq(1, 1)", True), ('def f(): print(1)', False), ('dls.show_batch()', True),
    ('plt.plot(x)\nplt.close()', True), ('tmp.cleanup()', False), ('#| hide\nx', True), ('%time x', False), ('!ls', False)])
def test_should_show(src, shows): assert co.should_show(src) == shows

def test_check_docs(ran, tmp_path):
    nb = json.loads(ran.read_text())
    nb['cells'].append(dict(code('import os\nos.getpid()'), id='c0ffee00', outputs=[dict(output_type='execute_result', data={'text/plain': ['1']}, metadata={})]))
    rerun = tmp_path/'rerun.ipynb'
    rerun.write_text(json.dumps(nb))
    r = tool('check_docs', ran, rerun)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        f'check_docs: {ran}: ok (8 code cells shown, 1 images, 1 tables, 2 hidden/exported cells removed, 1 exports documented)',
        f"check_docs: {rerun}: FAIL: cell 11 ('import os'): its saved outputs changed: nbdev re-ran it "
        "(a cell with an import is re-run for show_doc: put imports in cells of their own)"]
