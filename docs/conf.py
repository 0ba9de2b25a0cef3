"""Sphinx configuration of the sklearn_rvae documentation.

Build the full site (runs the quick ``examples/plot_*.py`` scripts for the
gallery's figures)::

    .venv/bin/python -m sphinx -b html docs docs/_build/html

The quick build CI runs (tests/test_docs.py: no example executed, warnings
are errors)::

    .venv/bin/python -m sphinx -W --keep-going -b html -D plot_gallery=0 docs docs/_build/html-quick
"""

import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS))  # _gallery.py
# The gallery runs examples that draw with matplotlib: never open a window.
os.environ.setdefault("MPLBACKEND", "Agg")

import sklearn_rvae  # noqa: E402

project = "sklearn_rvae"
author = "the sklearn_rvae developers"
copyright = "the sklearn_rvae developers, BSD-3-Clause"
version = release = sklearn_rvae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
templates_path = ["_templates"]

# -- API reference -----------------------------------------------------------
# autosummary writes a page per public name into docs/generated/ at every
# build; stale pages of names that left the API would break the build, so
# the previous build's are removed first.
for _stub in (DOCS / "generated").glob("*.rst"):
    _stub.unlink()
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"
toc_object_entries_show_parents = "hide"
# numpydoc renders the Parameters/Returns sections; the class template lists
# the methods itself, so numpydoc does not add its own member tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- User guide (markdown) ---------------------------------------------------
myst_heading_anchors = 3

# Pictures of the conventions, drawn at build time from docs/figures/*.py.
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]

# -- Gallery -----------------------------------------------------------------
# Only the quick, self-contained plot_*.py scripts run (seconds to half a
# minute each on 2 cores). The others need abTEM simulation caches or a
# trained TiltRegressor and run for minutes: the gallery shows their code
# and docstring, and the user guide their saved figures.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "reset_modules": ("matplotlib", "_gallery.example_file"),
    "reset_modules_order": "both",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "show_memory": False,
    "min_reported_time": 1,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sklearn_rvae",),
}

# The figures that the examples which the gallery does not run save, kept in
# docs/: they become those examples' thumbnails and are shown on their pages.
EXAMPLE_FIGURES = {
    "graphene_dopants": "graphene_dopants.png",
    "graphene_vacancy": "graphene_vacancy_maps.png",
    "zincblende_polarity": "zincblende_polarity_maps.png",
    "plot_com_calibration": "com_calibration.png",
    "tilt_domains": "tilt_domains.png",
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_rvae {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    # The results pages are wide tables: no sidebars there.
    "secondary_sidebar_items": {"**": ["page-toc"], "benchmarks/RESULTS": [], "benchmarks/RESULTS_HISTORY": []},
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "benchmarks/*": []}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False


# -- Benchmark results -------------------------------------------------------
# The user guide links to benchmarks/RESULTS.md, which lives outside docs/.
# Copy the results pages (and the figures they show) into docs/benchmarks/
# (generated, not in git) so that those links resolve inside the site.
def _copy_results(app):
    out = DOCS / "benchmarks"
    out.mkdir(exist_ok=True)
    for name in ("RESULTS.md", "RESULTS_HISTORY.md"):
        text = (ROOT / "benchmarks" / name).read_text(encoding="utf-8")
        text = text.replace("](../docs/", "](../")
        target = out / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    for png in re.findall(r"\]\(([\w.-]+\.png)\)", (out / "RESULTS.md").read_text(encoding="utf-8")):
        if (ROOT / "benchmarks" / png).exists() and not (out / png).exists():
            shutil.copy2(ROOT / "benchmarks" / png, out / png)


def _rewrite_links(app, docname, source):
    # The user guide's markdown links work on the repository's own pages too;
    # inside the site ../benchmarks/X.md is benchmarks/X.md, and
    # ../examples/X.py is the gallery's page auto_examples/X.
    source[0] = source[0].replace("](../benchmarks/", "](benchmarks/")
    source[0] = re.sub(r"\]\(\.\./examples/(\w+)\.py\)", r"](auto_examples/\1.rst)", source[0])


_LABEL = re.compile(r"^\.\. _sphx_glr_auto_examples_\w+\.py:\n\n+", re.M)
_CODE = "\n.. GENERATED FROM PYTHON SOURCE LINES"


def _literal_blocks(text):
    # Before an indented block that follows an unindented paragraph not
    # ending in "::", insert a "::" paragraph (which reST drops, making the
    # block literal).
    out, previous = [], ""
    for line in text.split("\n"):
        if (line.startswith("    ") and out and not out[-1].strip() and previous
                and not previous.startswith(" ") and not previous.rstrip().endswith("::")):
            out += ["::", ""]
        out.append(line)
        if line.strip():
            previous = line
    return "\n".join(out)


def _example_title(app, docname, source):
    # The examples' docstrings open with a one-line summary, not an underlined
    # reST title (they double as the scripts' --help). Underline the first
    # paragraph of each gallery page so that it is the page's title, and
    # escape |word| (magnitudes in the prose), which reST reads as a
    # substitution. Only the docstring is touched, never the code blocks.
    if not docname.startswith("auto_examples/") or docname == "auto_examples/index":
        return
    text = source[0]
    label = _LABEL.search(text)
    if label is None:
        return
    start = label.end()
    end = text.find(_CODE, start)
    end = len(text) if end < 0 else end
    intro = text[start:end]
    title, _, rest = intro.partition("\n\n")
    lines = title.strip().split("\n")
    if not lines[0] or (len(lines) > 1 and lines[1] and set(lines[1]) <= set("=-~^*#")):
        return  # empty, or already a reST title
    title = " ".join(title.split()).rstrip(".")
    rest = re.sub(r"(?<![\w`\\])\|(\w+)\|", r"\\|\1\\|", rest)
    # An indented block (commands to run) shows as it does in the script's
    # --help: literally, even when the paragraph before it has no "::".
    rest = _literal_blocks(rest)
    source[0] = text[:start] + title + "\n" + "=" * len(title) + "\n\n" + rest + text[end:]


def _executed(name):
    page = DOCS / "auto_examples" / f"{name}.rst"
    return page.exists() and f"sphx_glr_{name}_001.png" in page.read_text(encoding="utf-8")


def _example_thumbnails(app):
    # Runs after sphinx-gallery has written the gallery: an example that was
    # not executed gets the figure it saves as its thumbnail.
    from PIL import Image

    thumbs = DOCS / "auto_examples" / "images" / "thumb"
    for name, png in EXAMPLE_FIGURES.items():
        thumb = thumbs / f"sphx_glr_{name}_thumb.png"
        if not thumb.exists() or _executed(name):
            continue
        with Image.open(DOCS / png) as image:
            image = image.convert("RGBA")
            image.thumbnail((400, 280))
            canvas = Image.new("RGBA", (400, 280), (255, 255, 255, 0))
            canvas.paste(image, ((400 - image.width) // 2, (280 - image.height) // 2))
            canvas.save(thumb)


def _example_figure(app, docname, source):
    # ... and its page shows that figure under the docstring.
    name = docname.rpartition("/")[2]
    if not docname.startswith("auto_examples/") or name not in EXAMPLE_FIGURES or _executed(name):
        return
    text = source[0]
    at = text.find(_CODE)
    if at < 0:
        return
    figure = (f"\n.. figure:: /{EXAMPLE_FIGURES[name]}\n   :alt: the figure this example saves\n\n"
              f"   The figure this script saves (``docs/{EXAMPLE_FIGURES[name]}``; the gallery does not run it).\n")
    source[0] = text[:at] + figure + text[at:]


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's generated set_{fit,score,...}_request methods (metadata
    # routing) belong to its documentation, not this package's.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("builder-inited", _copy_results)
    app.connect("source-read", _rewrite_links)
    app.connect("source-read", _example_title)
    app.connect("source-read", _example_figure)
    app.connect("builder-inited", _example_thumbnails, priority=900)
