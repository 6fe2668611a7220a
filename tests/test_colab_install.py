"""The notebooks' Colab install cell (tools/colab.py writes it), taken from a notebook and run for real in a subprocess.

Off Colab it must install nothing and print nothing. On Colab (simulated: Colab's runtime sets COLAB_RELEASE_TAG) it
must install the release when the package index has one, else the project from its GitHub repository, and say which.
Nothing reaches the network: pip runs for real, but its only package index is a local folder (PIP_NO_INDEX,
PIP_FIND_LINKS) that holds a dummy `fastbook_ch7` release wheel or nothing, and git rewrites the repository's URL to a
local dummy repository (`url.<local>.insteadOf`). pip installs into a temporary folder (PIP_TARGET), never into this
environment, and the version found there tells which of the two it installed.
"""
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT, load_script

colab = load_script(ROOT/'tools'/'colab.py')
NBS = colab.notebooks()
RELEASE, DEV = '0.0.1', '0.0.2.dev0'  # the dummy release's version, and the dummy repository's

# The dummy package: the smallest thing pip can build from a source tree without downloading a build backend.
BACKEND = r'''"A PEP 517 backend that needs nothing installed: a wheel of the module fastbook_ch7 at the version in VERSION"
import base64, hashlib, zipfile
from pathlib import Path

def make_wheel(dest, version):
    "Write the dummy fastbook_ch7 `version` wheel into folder `dest`; return its file name"
    name, info = f'fastbook_ch7-{version}-py3-none-any.whl', f'fastbook_ch7-{version}.dist-info'
    files = {'fastbook_ch7/__init__.py': f'__version__ = {version!r}\n',
             f'{info}/METADATA': f'Metadata-Version: 2.1\nName: fastbook_ch7\nVersion: {version}\n',
             f'{info}/WHEEL': 'Wheel-Version: 1.0\nGenerator: dummy\nRoot-Is-Purelib: true\nTag: py3-none-any\n'}
    def digest(s): return base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).rstrip(b'=').decode()
    record = ''.join(f'{p},sha256={digest(s)},{len(s.encode())}\n' for p, s in files.items()) + f'{info}/RECORD,,\n'
    with zipfile.ZipFile(Path(dest)/name, 'w') as z:
        for p, s in {**files, f'{info}/RECORD': record}.items(): z.writestr(p, s)
    return name

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    "PEP 517 hook: the wheel of the version this source tree's VERSION file names"
    return make_wheel(wheel_directory, Path('VERSION').read_text().strip())
'''
PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'


def cell_code(nb):
    "The source of notebook `nb`'s install cell"
    cell = colab.install_cell(json.loads(Path(nb).read_text()))
    assert cell is not None, f'{Path(nb).name} has no install cell'
    return ''.join(cell['source'])


@pytest.fixture
def sources(tmp_path):
    "(index folder, holding the release wheel; dummy git repository at version DEV) for pip"
    repo, index = tmp_path/'repo', tmp_path/'index'
    repo.mkdir(); index.mkdir()
    (repo/'backend.py').write_text(BACKEND)
    (repo/'pyproject.toml').write_text(PYPROJECT)
    (repo/'VERSION').write_text(DEV + '\n')
    load_script(repo/'backend.py').make_wheel(index, RELEASE)
    git = ['git', '-C', str(repo), '-c', 'user.name=test', '-c', 'user.email=test@example.com']
    for args in (['init', '-q'], ['add', '.'], ['commit', '-qm', 'dummy']):
        subprocess.run(git + args, check=True, capture_output=True)
    return index, repo


def run_cell(code, tmp_path, index, repo, on_colab):
    "Run `code` in a fresh Python whose pip and git reach only `index` and `repo` → (CompletedProcess, target folder)"
    target = tmp_path/'target'
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PIP_', 'COLAB_', 'GIT_CONFIG'))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX='1', PIP_FIND_LINKS=str(index), PIP_TARGET=str(target),
               PIP_CACHE_DIR=str(tmp_path/'pip-cache'), PIP_DISABLE_PIP_VERSION_CHECK='1',
               GIT_CONFIG_COUNT='1', GIT_CONFIG_KEY_0=f'url.{repo.as_uri()}.insteadOf', GIT_CONFIG_VALUE_0=colab.REPO_URL)
    if on_colab: env['COLAB_RELEASE_TAG'] = 'release-colab_20250101-060000_RC00'  # the form Colab's runtime sets
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    return res, target


def installed(target):
    "The fastbook_ch7 versions pip put into `target`"
    return sorted(p.name.removeprefix('fastbook_ch7-').removesuffix('.dist-info') for p in target.glob('fastbook_ch7-*.dist-info'))


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_off_colab_installs_nothing(nb, tmp_path, sources):
    "Without Colab's marker the cell does nothing, though a release is there to install"
    res, target = run_cell(cell_code(nb), tmp_path, *sources, on_colab=False)
    assert (res.returncode, res.stdout, res.stderr) == (0, '', '')
    assert not target.exists() or not any(target.iterdir())


@pytest.fixture
def code():
    "The install cell as the first notebook has it (test_notebooks checks every notebook has this same cell)"
    return cell_code(NBS[0])


def test_colab_installs_release(code, tmp_path, sources):
    "A release on the index: the cell installs it, not the repository, and says so"
    res, target = run_cell(code, tmp_path, *sources, on_colab=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout == 'fastbook_ch7: installed the release from PyPI\n'
    assert installed(target) == [RELEASE]
    assert f'__version__ = {RELEASE!r}' in (target/'fastbook_ch7'/'__init__.py').read_text()


def test_colab_installs_repository_without_release(code, tmp_path, sources):
    "No release on the index: the cell installs the project from its git URL, and says so"
    index, repo = sources
    shutil.rmtree(index); index.mkdir()
    res, target = run_cell(code, tmp_path, index, repo, on_colab=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout == 'fastbook_ch7: installed the repository from GitHub\n'
    assert installed(target) == [DEV]


def test_colab_fails_loudly_when_neither_installs(code, tmp_path, sources):
    "Neither a release nor a reachable repository: the cell raises with pip's error, instead of going on silently"
    index, repo = sources
    shutil.rmtree(index); index.mkdir()
    res, target = run_cell(code, tmp_path, index, tmp_path/'no-such-repo', on_colab=True)
    assert res.returncode != 0 and res.stdout == ''
    assert 'RuntimeError: pip could not install fastbook_ch7' in res.stderr and 'git' in res.stderr
    assert installed(target) == []
