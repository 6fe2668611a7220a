"""Check that the notebooks' saved outputs come from their current source (see tools/run_notebooks.py).

Usage: python tools/check_outputs.py [NOTEBOOK ...]   (default: nbs/*.ipynb except index.ipynb)

One line per problem, naming notebook and cell, and a non-zero exit when
- a code cell nbdev-test runs has no `fastbook_src` hash, or one that does not match its source;
- a cell that should show something (ends in a bare expression, prints, plots, displays) has no output;
- any output holds a fastprogress progress bar.
"""
import ast, hashlib, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = 'fastbook_src'
# A fastprogress bar: console (`|████----| 50.00% [2/4 00:01<00:01]`) or HTML (`<progress ...>`, its style block)
PROGRESS_RE = re.compile(r'\|[█X-]*\|\s*\d+\.\d+% \[|<progress\b|progress::-webkit-progress-bar')
SHOW_CALLS = {'print', 'display', 'show', 'show_batch'}
# A last call to these (or to a `test*`/`assert*` function) returns nothing to show
NO_SHOW_CALLS = {'close', 'cleanup', 'set_seed'}

def src_hash(source):
    "First 16 hex digits of the sha256 of a cell's source"
    return hashlib.sha256(''.join(source).encode()).hexdigest()[:16]

def default_nbs():
    "Every notebook in nbs/ except index.ipynb"
    return [p for p in sorted((ROOT/'nbs').glob('*.ipynb')) if p.name != 'index.ipynb']

def nb_paths(args):
    "Notebook paths from the command line, or the default ones"
    return [Path(a) for a in args] or default_nbs()

def show_name(path):
    "`path` relative to the project when it is inside it"
    p = Path(path).absolute()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(path)

def run_idxs(path):
    "Indexes of the cells nbdev-test runs in the notebook at `path` (the `tst_flags` cells and markdown left out)"
    from nbdev.config import get_config
    from nbdev.test import nb_test_cells
    return {c.idx_ for c in nb_test_cells(path, skip_flags=get_config(ROOT).tst_flags)}

def has_progress(out):
    "Does output `out` hold a fastprogress progress bar?"
    texts = [out.get('text', '')] + list(out.get('data', {}).values())
    return any(PROGRESS_RE.search(''.join(t) if isinstance(t, list) else str(t)) for t in texts)

def _code(source):
    "Cell source without `#|` directives and IPython `%`/`!` lines"
    return '\n'.join(l for l in source.splitlines() if not l.lstrip().startswith(('#|', '%', '!')))

def _name(func):
    "Name of a called function: `f` for `f(...)` and `a.b.f(...)`"
    return getattr(func, 'id', None) or getattr(func, 'attr', '')

def _top_calls(node):
    "Calls in `node` outside function, class and lambda bodies"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)): return
    if isinstance(node, ast.Call): yield node
    for o in ast.iter_child_nodes(node): yield from _top_calls(o)

def _is_plt(call): return isinstance(call.func, ast.Attribute) and getattr(call.func.value, "id", None) == "plt" and call.func.attr != "close"

def should_show(source):
    "Does a cell with `source` show something: a last bare expression (no `;`, not a test), or a print/display/show/plot call?"
    code = _code(source)
    try: body = ast.parse(code).body
    except SyntaxError: return False
    if not body: return False
    calls = [c for n in body for c in _top_calls(n)]
    if any(_name(c.func) in SHOW_CALLS or _is_plt(c) for c in calls): return True
    last = body[-1]
    if not isinstance(last, ast.Expr): return False
    if code.splitlines()[last.end_lineno-1][last.end_col_offset:].lstrip().startswith(';'): return False
    if isinstance(last.value, ast.Call):
        n = _name(last.value.func)
        if n.startswith(('test', 'assert')) or n in NO_SHOW_CALLS: return False
    return True

def first_line(source):
    "The cell's first line of code (its first line when all are directives)"
    lines = [l for l in source.splitlines() if l.strip()]
    return next((l for l in lines if not l.lstrip().startswith('#|')), lines[0] if lines else '').strip()

def directives(source):
    "Names of the `#|` directives in `source`"
    return set(re.findall(r'^\s*#\|\s*([^\s:]+)', source, re.M))

def problems(path):
    "One message per problem with the saved outputs of the notebook at `path`, and the number of cells checked"
    nb, name, runs = json.loads(Path(path).read_text(encoding='utf-8')), show_name(path), run_idxs(path)
    res, n = [], 0
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] != 'code': continue
        src = ''.join(c['source'])
        where = f'{name}: cell {i} ({first_line(src)!r})'
        if any(has_progress(o) for o in c.get('outputs', [])):
            res.append(f'{where}: a saved output holds a progress bar: run tools/run_notebooks.py {name}')
        if i not in runs: continue
        n += 1
        h = c.get('metadata', {}).get(KEY)
        if h != src_hash(src):
            why = 'were never made by tools/run_notebooks.py' if h is None else 'do not come from its current source'
            res.append(f'{where}: saved outputs {why}: run tools/run_notebooks.py {name}')
        elif not c.get('outputs') and 'hide' not in directives(src) and should_show(src):
            res.append(f'{where}: should show something but has no output: run tools/run_notebooks.py {name}')
    return res, n

def main(args=None):
    "Check every notebook named in `args`; exit status 1 on any problem"
    args = sys.argv[1:] if args is None else args
    if args[:1] in (['-h'], ['--help']): return print(__doc__)
    paths, msgs, n = nb_paths(args), [], 0
    for p in paths:
        m, k = problems(p)
        msgs += m; n += k
    for m in msgs: print(m)
    if msgs: return 1
    print(f'check_outputs: {len(paths)} notebooks, {n} cells ok')

if __name__ == '__main__': sys.exit(main())
