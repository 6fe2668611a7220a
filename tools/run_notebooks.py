"""Run notebooks top to bottom and save them with their outputs, clean, for readers and the docs.

Usage: python tools/run_notebooks.py [--timeout S] [--n-workers N] [NOTEBOOK ...]   (default: nbs/*.ipynb but index.ipynb)

Each notebook runs in a fresh process, in its own folder, the way nbdev-test runs it: execnb's `CaptureShell`, with
the cells flagged by pyproject's `tst_flags` (`notest`, `cuda`) skipped, and cleared. Every cell it runs gets
`metadata.fastbook_src`, a hash of its source, which tools/check_outputs.py compares. Saved outputs keep prints,
tables and PNG plots, without progress bars, carriage-return redraws or stderr. The notebook is then cleaned as
nbdev-clean cleans it and replaced atomically. A cell that raises stops the run with one line naming notebook and cell.
"""
import argparse, json, os, re, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from check_outputs import KEY, ROOT, first_line, has_progress, nb_paths, run_idxs, show_name, src_hash

BAR_RE = re.compile(r'(Epoch \d+/\d+ :)?\s*\|[█X-]*\|\s*\d+\.\d+% \[[^\]\n]*\]')  # a console fastprogress bar
JUNK_RE = re.compile(r'\s*([█X]|Epoch \d+/\d+ :)?\s*$')  # what a bar leaves behind: its probe character, its prefix

def clean_text(text):
    "Stdout as a terminal ends up showing it, without progress bars: of a line redrawn with `\\r`, its last real part"
    keep = []
    for line in text.split('\n'):
        if '\r' in line or BAR_RE.search(line):
            line = next((s for s in reversed([BAR_RE.sub('', s) for s in line.split('\r')]) if not JUNK_RE.fullmatch(s)), None)
            if line is None: continue
        keep.append(line)
    return '\n'.join(keep)

def clean_outputs(outputs):
    "`outputs` without stderr, progress bars and redrawn lines"
    res = []
    for o in outputs:
        if o['output_type'] == 'stream':
            if o['name'] == 'stderr': continue
            o['text'] = clean_text(''.join(o['text']))
            if not o['text'].strip(): continue
        elif has_progress(o): continue
        res.append(o)
    return res

def nbdev_clean(nb):
    "Clean notebook dict `nb` in place exactly as `nbdev-clean` does with this project's config"
    from nbdev.clean import clean_nb
    from nbdev.config import get_config
    cfg = get_config(ROOT)
    clean_nb(nb, cfg.clear_all, cfg.get('allowed_metadata_keys') or [], cfg.get('allowed_cell_metadata_keys') or [],
             cfg.clean_ids, cfg.get('allowed_out_metadata_keys') or [])

def write_atomic(path, text):
    "Replace the file at `path` with `text` in one step"
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(text, encoding='utf-8')
    os.replace(tmp, path)

def run_nb(path, timeout=None):
    "Run the notebook at `path` and save it with its outputs; return a one-line error, or None"
    from execnb.shell import CaptureShell
    from fastcore.nbio import nb2str, read_nb
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    path, t0 = Path(path).absolute(), time.time()
    runs, nb, cur, before = run_idxs(path), read_nb(path), [None], path.read_bytes()
    def _skip(cell):
        if cell.idx_ not in runs: return True
        cur[0] = cell
    os.environ['IN_TEST'] = '1'  # as nbdev-test, which also puts the project on sys.path
    sys.path.insert(0, str(ROOT))
    shell = CaptureShell(path, mpl_format='png', profile=bool(get_config(ROOT).exec_profile))  # plain PNG: no retina
    try:
        with working_directory(path.parent): shell.run_all(nb, exc_stop=True, preproc=_skip, cell_timeout=timeout or None)
    except Exception as e:
        where = f' cell {cur[0].idx_} ({first_line(cur[0].source)!r})' if cur[0] else ''
        return f'{show_name(path)}:{where} raised {type(e).__name__}: {(str(e).splitlines() or [""])[0].rstrip(":")}'
    d = json.loads(nb2str(nb))
    for i, c in enumerate(d['cells']):
        if c['cell_type'] != 'code': continue
        c.setdefault('metadata', {}).pop(KEY, None)
        c['outputs'] = clean_outputs(c['outputs']) if i in runs else []
        if i in runs: c['metadata'][KEY] = src_hash(c['source'])
    nbdev_clean(d)
    if path.read_bytes() != before: return f'{show_name(path)}: changed on disk while it ran, so not saved: run it again'
    write_atomic(path, nb2str(d))
    print(f'run_notebooks: {show_name(path)}: {len(runs)} cells run in {time.time()-t0:.0f}s', flush=True)

def main():
    "Run the notebooks named on the command line; exit status 1 at the first cell that raises"
    from nbdev.config import get_config
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', help='default: nbs/*.ipynb except index.ipynb')
    ap.add_argument('--timeout', type=int, help="seconds per cell (0: no limit; default: pyproject's cell_timeout)")
    ap.add_argument('--n-workers', type=int, default=1, help='notebooks run at once')
    ap.add_argument('--one', action='store_true', help=argparse.SUPPRESS)
    a = ap.parse_args()
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    timeout = get_config(ROOT).cell_timeout if a.timeout is None else a.timeout
    if a.one: return 1 if _report(run_nb(a.notebooks[0], timeout=timeout)) else 0
    # one plain child process per notebook (not a multiprocessing worker: those are daemonic and cannot start the
    # process pools fastai's `parallel` uses, e.g. in `verify_images`)
    def one(nb): return subprocess.run([sys.executable, __file__, '--one', '--timeout', str(timeout), str(nb)]).returncode
    with ThreadPoolExecutor(a.n_workers) as ex:
        for rc in ex.map(one, nb_paths(a.notebooks)):
            if rc: return 1

def _report(err):
    if err: print(f'run_notebooks: {err}', file=sys.stderr, flush=True)
    return err

if __name__ == '__main__': sys.exit(main())
