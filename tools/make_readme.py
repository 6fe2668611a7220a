"""Write README.md from nbs/index.ipynb without Quarto (which `nbdev-readme` needs and these machines cannot install).

Cells marked `#| hide` are left out and nbdev directives are stripped, as nbdev-readme does; relative links and
images (relative to nbs/, as the docs site needs) are made relative to the repository root.
The README's pictures are the saved outputs of the lesson notebooks (committed executed, see tools/run_notebooks.py):
`PICTURES` names one cell per technique notebook, and its first PNG output is written to nbs/images/readme/<notebook>.png.
Usage: python tools/make_readme.py [--check]   (--check: exit 1 if README.md or a picture is not what this script makes)
"""
import base64, json, re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

root = Path(__file__).resolve().parent.parent
_directive = re.compile(r'^\s*#\s*\|\s*(.*)$')

# notebook: (id of the cell whose first PNG output is the README's picture, caption)
PICTURES = {
    '00_data': ('f0c4f582', 'presizing: one item at the presize, then four augmented training views cropped from it'),
    '01_baseline': ('3cde0c2d', "the baseline's confusion matrix: which shapes it mixes up"),
    '02_normalization': ('1184e711', 'the pixel histograms of one batch, per channel, before and after `Normalize`'),
    '03_resizing': ('e60b26dc', 'one training image at each size of progressive resizing'),
    '04_tta': ('66339038', 'the five crops of one validation image, and where they sit'),
    '05_mixup': ('ffd06dfd', 'a training batch after mixup, each image titled with its blended target'),
    '06_label_smoothing': ('22a948f7', 'the loss and its gradient against the logit gap: one-hot targets push the gap up forever, smoothed ones stop'),
    '07_ladder': ('428f3143', "the ladder's report: each stage's accuracy with its uncertainty"),
}

def pictures():
    "{path under nbs/: PNG bytes} for every entry of `PICTURES`, read from the notebooks' saved outputs"
    res = {}
    for name,(cid,_) in PICTURES.items():
        nb = nbformat.read(root/'nbs'/f'{name}.ipynb', as_version=4)
        cell = next((c for c in nb.cells if c.get('id') == cid), None)
        if cell is None: sys.exit(f"tools/make_readme.py: {name}.ipynb has no cell {cid}: update PICTURES")
        png = next((o['data']['image/png'] for o in cell.get('outputs', []) if 'image/png' in o.get('data', {})), None)
        if png is None: sys.exit(f"tools/make_readme.py: {name}.ipynb cell {cid} has no saved picture: run tools/run_notebooks.py nbs/{name}.ipynb")
        res[f'images/readme/{name}.png'] = base64.b64decode(png)
    return res

def pictures_markdown():
    "The index's cell `pictures`: one picture per technique notebook, with its caption"
    return ('## One picture from each lesson\n\nSaved outputs of the notebooks (the CPU recipe on the synthetic stand-in), '
            'copied here by `tools/make_readme.py`:\n\n' +
            '\n\n'.join(f'**`{n}.ipynb`** — {cap}\n\n![{n}](images/readme/{n}.png)' for n,(_,cap) in PICTURES.items()))

def _pictures_cell(nb):
    cell = next((c for c in nb['cells'] if c.get('id') == 'pictures'), None)
    if cell is None: sys.exit("tools/make_readme.py: nbs/index.ipynb has no markdown cell with id 'pictures'")
    return cell

def index_pictures_current():
    "Whether nbs/index.ipynb's `pictures` cell is what `pictures_markdown` makes"
    return ''.join(_pictures_cell(json.loads((root/'nbs'/'index.ipynb').read_text()))['source']) == pictures_markdown()

def write_index_pictures():
    "Make nbs/index.ipynb's `pictures` cell (kept in nbdev-clean's format: one-space indent)"
    fn = root/'nbs'/'index.ipynb'
    nb = json.loads(fn.read_text())
    lines = pictures_markdown().split('\n')
    _pictures_cell(nb)['source'] = [l+'\n' for l in lines[:-1]] + [lines[-1]]
    fn.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

def _directives(src):
    return [m.group(1).strip() for m in map(_directive.match, src.splitlines()) if m]

def readme_text():
    nb = nbformat.read(root/'nbs'/'index.ipynb', as_version=4)
    cells = []
    for c in nb.cells:
        if any(d.split()[0] in ('hide', 'exporti') for d in _directives(c.source) if d): continue
        c.source = '\n'.join(l for l in c.source.splitlines() if not _directive.match(l)).strip()
        cells.append(c)
    nb.cells = cells
    body,_ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
    body = re.sub(r'\]\((?!https?:|/|#)', '](nbs/', body)  # links relative to nbs/ (as the docs site needs) → to the repo root
    return "<!-- generated from nbs/index.ipynb by tools/make_readme.py: edit that notebook, not this file -->\n\n" + body.strip() + "\n"

if __name__ == '__main__':
    pics = pictures()
    if '--check' not in sys.argv and not index_pictures_current(): write_index_pictures()
    txt,readme = readme_text(),root/'README.md'
    if '--check' in sys.argv:
        stale = [f for f,b in pics.items() if not (root/'nbs'/f).exists() or (root/'nbs'/f).read_bytes() != b]
        if not index_pictures_current(): stale.append("nbs/index.ipynb's pictures cell")
        if not readme.exists() or readme.read_text() != txt or stale:
            sys.exit(f"README.md{' and ' + ', '.join(stale) if stale else ''} not what tools/make_readme.py makes from the notebooks: "
                     "run `python tools/make_readme.py` and commit")
    else:
        readme.write_text(txt)
        for f,b in pics.items(): (root/'nbs'/f).parent.mkdir(parents=True, exist_ok=True); (root/'nbs'/f).write_bytes(b)
