import importlib.util, os, sys, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    "A tiny synthetic dataset (10 classes, 8 train / 4 val images each, 32px): trains in a second"
    from fastbook_ch7.data import make_synthetic_imagenette
    return make_synthetic_imagenette(tmp_path_factory.mktemp('data')/'tiny', n_train=8, n_valid=4, size=32)

# The recipe options that make a ladder run on `tiny_data` take seconds
TINY = ['--cpu', '--size', '16', '--bs', '16', '--epochs', '1']

def cli(*args, env=None, **kwargs):
    "Run the installed `fastbook_ch7` console script; return the CompletedProcess"
    e = {**os.environ, 'PYTHONWARNINGS': 'ignore', **(env or {})}
    return subprocess.run([str(BIN/'fastbook_ch7'), *map(str, args)], capture_output=True, text=True, env=e, timeout=600, **kwargs)

def cli_in_process(*args, cwd=None):
    "`fastbook_ch7 *args` run by its `main` in this process (from folder `cwd`), without the 7 s start of a new Python: a CompletedProcess-like result"
    import contextlib, io, signal
    from types import SimpleNamespace
    from fastbook_ch7.cli import main
    out,err,term,here = io.StringIO(),io.StringIO(),signal.getsignal(signal.SIGTERM),os.getcwd()
    try:
        if cwd is not None: os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try: code = main(list(map(str, args)))
            except SystemExit as e: code = e.code   # argparse's refusals
    finally:
        signal.signal(signal.SIGTERM, term)  # main installs its own handler
        os.chdir(here)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())

def load_script(path):
    "Import the script at `path` (a tool, not a package module) as a module"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
