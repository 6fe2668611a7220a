"""Write README.md from nbs/index.ipynb without Quarto (which `nbdev-readme` needs and these machines cannot install).

Cells marked `#| hide` are left out and nbdev directives are stripped, as nbdev-readme does; relative links and
images (relative to nbs/, as the docs site needs) are made relative to the repository root.
Usage: python tools/make_readme.py [--check]   (--check: exit 1 if README.md is not what this script makes)
"""
import re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

root = Path(__file__).resolve().parent.parent
_directive = re.compile(r'^\s*#\s*\|\s*(.*)$')

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
    txt,readme = readme_text(),root/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != txt:
            sys.exit("README.md is not what tools/make_readme.py makes from nbs/index.ipynb: run `python tools/make_readme.py` and commit")
    else: readme.write_text(txt)
