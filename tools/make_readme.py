"""Write README.md from nbs/index.ipynb without Quarto (which `nbdev-readme` needs and these machines cannot install).

Cells marked `#| hide` are left out and nbdev directives are stripped, as nbdev-readme does; relative links and
images (relative to nbs/, as the docs site needs) are made relative to the repository root.
The README's pictures are the saved outputs of the lesson notebooks (committed executed, see tools/run_notebooks.py):
`PICTURES` names one cell per technique notebook, and its first PNG output is written to nbs/images/readme/<notebook>.png.
Usage: python tools/make_readme.py [--check]   (--check: exit 1 if README.md or a picture is not what this script makes)
"""
import base64, re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

root = Path(__file__).resolve().parent.parent
_directive = re.compile(r'^\s*#\s*\|\s*(.*)$')

# notebook: (id of the cell whose first PNG output is the README's picture, caption)
PICTURES = {}

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
    "One picture per technique notebook, with its caption"
    return '\n\n'.join(f'**`{n}.ipynb`** — {cap}\n\n![{n}](images/readme/{n}.png)' for n,(_,cap) in PICTURES.items())

def _directives(src):
    return [m.group(1).strip() for m in map(_directive.match, src.splitlines()) if m]

def readme_text():
    nb = nbformat.read(root/'nbs'/'index.ipynb', as_version=4)
    cells = []
    for c in nb.cells:
        if any(d.split()[0] in ('hide', 'exporti') for d in _directives(c.source) if d): continue
        c.source = '\n'.join(l for l in c.source.splitlines() if not _directive.match(l)).strip()
        if c.cell_type == 'markdown': c.source = c.source.replace('<!-- pictures -->', pictures_markdown())
        cells.append(c)
    nb.cells = cells
    body,_ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
    body = re.sub(r'\]\((?!https?:|/|#)', '](nbs/', body)  # links relative to nbs/ (as the docs site needs) → to the repo root
    return "<!-- generated from nbs/index.ipynb by tools/make_readme.py: edit that notebook, not this file -->\n\n" + body.strip() + "\n"

if __name__ == '__main__':
    txt,readme,pics = readme_text(),root/'README.md',pictures()
    if '--check' in sys.argv:
        stale = [f for f,b in pics.items() if not (root/'nbs'/f).exists() or (root/'nbs'/f).read_bytes() != b]
        if not readme.exists() or readme.read_text() != txt or stale:
            sys.exit(f"README.md{' and ' + ', '.join(stale) if stale else ''} not what tools/make_readme.py makes from the notebooks: "
                     "run `python tools/make_readme.py` and commit")
    else:
        readme.write_text(txt)
        for f,b in pics.items(): (root/'nbs'/f).parent.mkdir(parents=True, exist_ok=True); (root/'nbs'/f).write_bytes(b)
