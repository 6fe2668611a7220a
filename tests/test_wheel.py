"`python -m build` makes a wheel that installs into a fresh venv, imports and runs its console script."
import subprocess, sys, sysconfig, zipfile
from pathlib import Path
from conftest import ROOT
import pytest

pytestmark = pytest.mark.slow

def run(*args, **kw):
    res = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kw)
    assert res.returncode == 0, (args, res.stdout[-3000:], res.stderr[-3000:])
    return res

def test_wheel_installs_and_imports(tmp_path):
    run(sys.executable, '-m', 'build', '--wheel', '--outdir', tmp_path/'dist', ROOT)
    whl, = (tmp_path/'dist').glob('fastbook_ch7-*.whl')
    names = zipfile.ZipFile(whl).namelist()
    assert 'fastbook_ch7/data.py' in names and 'fastbook_ch7/ladder.py' in names
    meta = zipfile.ZipFile(whl).read(next(n for n in names if n.endswith('METADATA'))).decode()
    assert 'Requires-Dist: fastai>=2.8' in meta and 'Requires-Dist: torch\n' in meta, 'torch must not be pinned'
    # A fresh venv gets the wheel; its heavy dependencies (torch, fastai: GBs) come from this venv through a .pth,
    # added *after* the fresh site-packages, so the import must resolve to the wheel's copy.
    venv = tmp_path/'venv'
    run(sys.executable, '-m', 'venv', venv)
    py = venv/'bin'/'python'
    run(py, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index', whl)
    site = Path(run(py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])').stdout.strip())
    (site/'zz_deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    res = run(py, '-c', 'import fastbook_ch7, fastbook_ch7.ladder as l; print(fastbook_ch7.__file__); print(list(l.STAGES))', cwd=tmp_path)
    assert res.stdout.startswith(str(venv)), res.stdout
    assert 'baseline' in res.stdout
    assert 'baseline' in run(venv/'bin'/'fastbook_ch7', 'run', '--list', cwd=tmp_path).stdout
