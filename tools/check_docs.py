"""Check what the docs site will show: run nbdev's processing before Quarto on the notebooks, into a temporary folder.

Usage: python tools/check_docs.py [NOTEBOOK ...]   (default: nbs/*.ipynb except index.ipynb)

Each notebook goes through `nbdev.serve_drv.main` with `FilterDefaults`, in a fresh process from the project root,
exactly as `nbdev-docs`/`nbdev-proc-nbs` process it (`proc_nbs`), and one line per notebook says whether
- it processed without error;
- `#| hide` and `#| export` cells are gone, and every public name an export defines has a `show_doc` with output;
- the directives left are Quarto's leading `#| key: value` options (Quarto strips those);
- every cell shown keeps its saved outputs (images, tables, prints): nbdev re-runs a cell that holds an import
  (for `show_doc`), which replaces them.
Exit status 1 if any notebook fails.
"""
import ast, json, multiprocessing as mp, os, re, sys, tempfile, warnings
from pathlib import Path
from check_outputs import ROOT, directives, first_line, nb_paths, show_name

HIDE = {'hide', 'export', 'exporti', 'default_exp'}  # nbdev's `hide_` and `rm_export` remove these cells
ANSI_RE = re.compile(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])')
OPTION_RE = re.compile(r'#\| [\w-]+: \S.*')

def process(src, dst):
    "Process notebook `src` into `dst` as nbdev's docs build does; return an error message or None"
    import nbdev.serve_drv
    from nbdev.processors import FilterDefaults
    os.chdir(ROOT)  # nbdev-docs runs from the project root
    warnings.simplefilter('ignore')  # nbdev's 'imports and other code' warning: `compare` reports what it costs
    try: nbdev.serve_drv.main((Path(src), Path(dst), FilterDefaults))
    except Exception as e: return f'{type(e).__name__}: {(str(e).splitlines() or [""])[0]}'

def _src(c): return ''.join(c.get('source', ''))

def _outs(c):
    "A cell's outputs as what a reader sees of them"
    res = []
    for o in c.get('outputs', []):
        if 'text' in o: res.append((o['output_type'], o.get('name'), ANSI_RE.sub('', _src({'source': o['text']}))))
        else: res.append((o['output_type'], {k: ''.join(v).strip() for k,v in o.get('data', {}).items() if k != 'text/markdown'}))
    return res

def _public_defs(c):
    try: body = ast.parse('\n'.join(l for l in _src(c).splitlines() if not l.lstrip().startswith(('%', '!')))).body
    except SyntaxError: return []
    return [o.name for o in body if isinstance(o, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not o.name.startswith('_')]

def compare(src_nb, proc_nb):
    "Problems with processed notebook `proc_nb` (a dict) against its source `src_nb`, and counts for the report"
    probs, n = [], dict(shown=0, images=0, tables=0, hidden=0, documented=0)
    procs = {c.get('id'): c for c in proc_nb['cells']}
    docs = [_src(c) for c in proc_nb['cells'] if 'show_doc(' in _src(c) and c.get('outputs')]
    for i, c in enumerate(src_nb['cells']):
        if c['cell_type'] != 'code': continue
        where, dirs, p = f'cell {i} ({first_line(_src(c))!r})', directives(_src(c)), procs.get(c.get('id'))
        if dirs & HIDE:
            n['hidden'] += 1
            if p is not None: probs.append(f'{where}: a {"/".join(sorted(dirs & HIDE))} cell is still shown')
            if dirs & {'export', 'exporti'} and 'hide' not in dirs:
                for name in _public_defs(c):
                    if any(re.search(rf'show_doc\([\w.]*\b{name}\)', d) for d in docs): n['documented'] += 1
                    else: probs.append(f'{where}: exported {name} has no show_doc with output')
            continue
        if p is None: probs.append(f'{where}: missing from the processed notebook' + ('' if 'id' in c else ' (it has no id: run nbdev-clean)')); continue
        n['shown'] += 1
        if _outs(p) != _outs(c):
            probs.append(f'{where}: its saved outputs changed: nbdev re-ran it (a cell with an import is re-run for show_doc: '
                         'put imports in cells of their own)')
        outs = [o.get('data', {}) for o in p.get('outputs', [])]
        n['images'] += sum('image/png' in d for d in outs)
        n['tables'] += sum('<table' in ''.join(d.get('text/html', '')) for d in outs)
    for c in proc_nb['cells']:
        if c['cell_type'] != 'code': continue
        lines = _src(c).splitlines()
        opts = [l for l in lines if l.startswith('#|')]
        if opts != lines[:len(opts)] or not all(OPTION_RE.fullmatch(l) for l in opts):
            probs.append(f'processed cell {first_line(_src(c))!r}: directives left that are not leading Quarto options')
    return probs, n

def check(path, dst):
    "One line on how the notebook at `path` fares in docs processing into `dst`; and whether it passed"
    name = show_name(path)
    with mp.get_context('spawn').Pool(1) as pool: err = pool.apply(process, (str(Path(path).absolute()), str(dst)))
    if err: return f'check_docs: {name}: FAIL: processing raised {err}', False
    probs, n = compare(json.loads(Path(path).read_text(encoding='utf-8')), json.loads(dst.read_text(encoding='utf-8')))
    if probs: return f'check_docs: {name}: FAIL: ' + '; '.join(probs), False
    return (f'check_docs: {name}: ok ({n["shown"]} code cells shown, {n["images"]} images, {n["tables"]} tables, '
            f'{n["hidden"]} hidden/exported cells removed, {n["documented"]} exports documented)'), True

def main(args=None):
    "Check every notebook named in `args`; exit status 1 if any fails"
    args, ok = sys.argv[1:] if args is None else args, True
    if args[:1] in (['-h'], ['--help']): return print(__doc__)
    with tempfile.TemporaryDirectory() as d:
        for p in nb_paths(args):
            line, passed = check(p, Path(d)/Path(p).name)
            print(line, flush=True)
            ok &= passed
    return 0 if ok else 1

if __name__ == '__main__': sys.exit(main())
