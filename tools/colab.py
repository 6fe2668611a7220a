"""Give every notebook in nbs/ what Colab needs: GPU runtime metadata (kept by nbdev-clean through
`allowed_metadata_keys` in pyproject.toml) and the hidden install cell, the same in every notebook.
This script owns that cell: edit INSTALL_CELL here, then run it.
Usage: python tools/colab.py [--check]   (--check: exit 1 naming the notebooks that differ; change nothing)"""
import json, sys, uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLAB_META = {'accelerator': 'GPU', 'colab': {'gpuType': 'T4', 'provenance': []}}
REPO_URL = 'https://github.com/fastbook-ch7/fastbook_ch7'
# The cell must work before the package is installed, so it imports nothing of ours. Colab's runtime sets
# COLAB_RELEASE_TAG; anywhere else the cell does nothing. pip's output is kept to show only when both installs fail.
INSTALL_CELL = f"""#| hide
#| notest
# Colab only (CI and local runs skip this cell): pip install the release from PyPI, or the repository while there is none
import os, subprocess, sys
if 'COLAB_RELEASE_TAG' in os.environ:
    for src, what in [('fastbook_ch7', 'the release from PyPI'),
                      ('git+{REPO_URL}', 'the repository from GitHub')]:
        r = subprocess.run([sys.executable, '-m', 'pip', 'install', '-Uqq', src], capture_output=True, text=True)
        if r.returncode == 0: print('fastbook_ch7: installed', what); break
    else: raise RuntimeError('pip could not install fastbook_ch7:\\n' + r.stderr)"""

def notebooks():
    "The series' notebooks: nbs/ files that start with a digit"
    return sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))

def install_cell(nb):
    "The notebook's install cell (the first code cell that says `pip install`), or None"
    return next((c for c in nb['cells'] if c['cell_type'] == 'code' and 'pip install' in ''.join(c['source'])), None)

def fixed(nb):
    "A copy of notebook dict `nb` with Colab's metadata and the canonical install cell (its id kept, else new, after the title)"
    nb = json.loads(json.dumps(nb))
    nb['metadata'].update(COLAB_META)
    cell = install_cell(nb)
    if cell is None:
        cell = {'cell_type': 'code', 'execution_count': None, 'id': uuid.uuid4().hex[:8], 'metadata': {}, 'outputs': []}
        nb['cells'].insert(1, cell)
    cell['source'] = INSTALL_CELL.splitlines(keepends=True)
    return nb

def differences(nb):
    "What `fixed` would change in notebook dict `nb`, in words"
    cell = install_cell(nb)
    return ([] if all(nb['metadata'].get(k) == v for k,v in COLAB_META.items()) else ['Colab metadata']) + \
           ([] if cell and ''.join(cell['source']) == INSTALL_CELL else ['install cell'])

if __name__ == '__main__':
    check, bad = '--check' in sys.argv, []
    for p in notebooks():
        nb = json.loads(p.read_text())
        if not (diff := differences(nb)): continue
        bad.append(p.name)
        if check: print(f'{p.name}: {" and ".join(diff)} not as tools/colab.py writes them', file=sys.stderr)
        else:
            # written as nbdev-clean writes notebooks, so that nbdev-clean leaves them as they are
            p.write_text(json.dumps(fixed(nb), sort_keys=True, indent=1, ensure_ascii=False) + '\n')
            print(f'{p.name}: wrote {" and ".join(diff)}')
    if check and bad: sys.exit(f'run `python tools/colab.py` to fix: {", ".join(bad)}')
