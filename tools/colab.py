"""Give every notebook in nbs/ what Colab needs: GPU runtime metadata (kept by nbdev-clean through
`allowed_metadata_keys` in pyproject.toml). Usage: python tools/colab.py"""
import json
from pathlib import Path

COLAB_META = {'accelerator': 'GPU', 'colab': {'gpuType': 'T4', 'provenance': []}}

def add_colab_metadata(path):
    "Add Colab's GPU metadata to the notebook at `path`; return True if it changed"
    nb = json.loads(Path(path).read_text())
    if all(nb['metadata'].get(k) == v for k,v in COLAB_META.items()): return False
    nb['metadata'].update(COLAB_META)
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return True

if __name__ == '__main__':
    for p in sorted(Path(__file__).resolve().parent.parent.glob('nbs/[0-9]*.ipynb')):
        if add_colab_metadata(p): print('colab metadata added:', p.name)
