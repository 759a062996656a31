"""`make book`: the course as a static website in _book/, readable without installing anything.

Every chapter notebook is rendered with its stored outputs by nbconvert's HTML exporter.
Widgets cannot run in a static page (there is no kernel), so each widget is replaced by a
snapshot: the outputs its Output widget showed when the notebook was last executed, under
a note saying the control is live in JupyterLab. No script is loaded from the internet.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_book"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
NOTE = ('<p class="annicas-widget-note">&#9881; Interactive widget: open this chapter in JupyterLab '
        '(<code>make lab</code>) to move its controls. Shown here as it was when the notebook was last run.</p>')


def chapter_title(nb, fallback):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _output_widgets(state, model_id, seen=None):
    """Ids of the Output widgets inside a widget (depth first)."""
    seen = seen if seen is not None else set()
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    found = [model_id] if model.get("model_name") == "OutputModel" else []
    for value in model.get("state", {}).values():
        refs = value if isinstance(value, list) else [value]
        for ref in refs:
            if isinstance(ref, str) and ref.startswith("IPY_MODEL_"):
                found += _output_widgets(state, ref[len("IPY_MODEL_"):], seen)
    return found


def snapshot_widgets(nb):
    """Replace widget views by the outputs they displayed, and drop the widget state."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.outputs:
            view = out.get("data", {}).get(WIDGET_VIEW) if out.get("output_type") in ("display_data", "execute_result") else None
            if view is None:
                outputs.append(out)
                continue
            replaced += 1
            outputs.append(nbformat.v4.new_output("display_data", data={"text/html": NOTE}))
            for output_id in _output_widgets(state, view["model_id"]):
                for shown in state[output_id]["state"].get("outputs", []):
                    outputs.append(nbformat.from_dict(shown))
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return replaced


MATHJAX_FONTS = (
    '<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": {availableFonts: ["STIX-Web"], '
    'preferredFont: "STIX-Web", webFont: "STIX-Web", imageFont: null}});</script>\n'
)

PAGE_CSS = """
body { margin: 0; }
.annicas-nav { position: sticky; top: 0; z-index: 10; background: #1f2a44; color: #fff; padding: 8px 20px;
  font-family: system-ui, sans-serif; display: flex; gap: 18px; align-items: center; }
.annicas-nav a { color: #cfe0ff; text-decoration: none; }
.annicas-nav .spacer { flex: 1; }
.annicas-widget-note { background: #fff7e0; border-left: 4px solid #e0a800; padding: 6px 10px; font-family: system-ui, sans-serif; }
"""


def nav(prev_page, next_page):
    parts = ['<nav class="annicas-nav"><a href="index.html">&#8962; ANNICAS contents</a><span class="spacer"></span>']
    if prev_page:
        parts.append(f'<a href="{prev_page[0]}">&larr; {html.escape(prev_page[1])}</a>')
    if next_page:
        parts.append(f'<a href="{next_page[0]}">{html.escape(next_page[1])} &rarr;</a>')
    parts.append("</nav>")
    return "".join(parts)


def build(out=OUT):
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise SystemExit("no chapter notebooks in notebooks/")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    # MathJax from the jupyter-server-mathjax package, copied next to the pages: formulas render offline
    import jupyter_server_mathjax

    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", out / "mathjax")
    exporter = HTMLExporter(template_name="lab")
    exporter.mathjax_url = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
    chapters = []
    loaded = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        loaded.append((path, nb))
        chapters.append((path.stem + ".html", chapter_title(nb, path.stem)))
    for i, (path, nb) in enumerate(loaded):
        snapshot_widgets(nb)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": chapters[i][1]}})
        # no page of the book may load anything from the internet
        body = re.sub(r'<script[^>]+src="https?://[^"]+"[^>]*></script>', "", body)
        body = body.replace("</head>", f"<style>{PAGE_CSS}</style></head>", 1)
        # the packaged MathJax carries the STIX-Web fonts only
        body = body.replace('<script src="mathjax/MathJax.js', MATHJAX_FONTS + '<script src="mathjax/MathJax.js', 1)
        body = re.sub(r"(<body[^>]*>)", r"\1" + nav(chapters[i - 1] if i else None,
                                                     chapters[i + 1] if i + 1 < len(chapters) else None), body, count=1)
        (out / chapters[i][0]).write_text(body, encoding="utf-8")
    items = "\n".join(f'<li><a href="{href}">{html.escape(title)}</a></li>' for href, title in chapters)
    readme_intro = "Build a working neural network, then a convolutional one, with numpy alone."
    index = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ANNICAS: Artificial Neuronal Networks in Python, from scratch</title>
<style>{PAGE_CSS}
main {{ max-width: 760px; margin: 40px auto; font-family: system-ui, sans-serif; line-height: 1.5; }}
li {{ margin: 6px 0; }}
</style></head>
<body><main>
<h1>ANNICAS</h1>
<p><strong>Artificial Neuronal Networks in Python, from scratch.</strong> {readme_intro}
Read the chapters here with their results and plots, or run them yourself: <code>make lab</code>.</p>
<h2>Contents</h2>
<ol start="0" id="toc">
{items}
</ol>
</main></body></html>
"""
    (out / "index.html").write_text(index, encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}/index.html and {len(chapters)} chapters")
    return chapters


if __name__ == "__main__":
    build()
    sys.exit(0)
