"""The documentation site builds, quickly and without a warning, and documents every public name.

The quick build of docs/ (``-D plot_gallery=0``: the gallery's examples are
not executed) with warnings as errors, as CI runs it, so a broken docstring,
reference or page fails the suite. The full build (examples executed) is
``python -m sphinx -b html docs docs/_build/html``.
"""

import importlib
import inspect
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="building the docs needs the docs extra: pip install -e '.[docs]'")

ROOT = Path(__file__).resolve().parent.parent
MODULES = [
    "sklearn_rvae",
    "sklearn_rvae.atoms",
    "sklearn_rvae.com",
    "sklearn_rvae.datasets",
    "sklearn_rvae.dpc",
    "sklearn_rvae.io",
    "sklearn_rvae.metrics",
    "sklearn_rvae.plotting",
    "sklearn_rvae.recipes",
    "sklearn_rvae.rvae",
    "sklearn_rvae.tilt",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    # A separate process: Sphinx, its extensions and the gallery change global
    # state (sys.path, matplotlib, docutils' registries) that other tests share.
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-D", "plot_gallery=0", str(ROOT / "docs"), str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"the docs build failed (exit {result.returncode}); warnings are errors:\n{result.stderr}\n{result.stdout}"
    )
    return out


def _public_names(module_name):
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return [name for name in module.__all__ if not name.startswith("_")]
    # sklearn_rvae.metrics has no __all__: its public functions.
    return [name for name, obj in vars(module).items()
            if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == module_name]


def _inventory(site):
    # objects.inv: four header lines, then zlib-compressed "name domain:role priority uri dispname" lines.
    raw = (site / "objects.inv").read_bytes()
    body = raw.split(b"\n", 4)[4]
    names = set()
    for line in zlib.decompress(body).decode("utf-8").splitlines():
        name, role = line.split(" ", 2)[:2]
        if role.startswith("py:"):
            names.add(name)
    return names


def test_docs_build_without_warnings(site):
    for page in ("index.html", "api.html", "user_guide.html", "conventions.html", "com.html", "rvae.html",
                 "gridsearch.html", "recipes.html", "atoms.html", "tilt.html", "auto_examples/index.html",
                 "generated/sklearn_rvae.RotationInvariantVAE.html", "benchmarks/RESULTS.html"):
        assert (site / page).is_file(), page
    # Every example of examples/ has a page in the gallery.
    for script in sorted((ROOT / "examples").glob("*.py")):
        assert (site / "auto_examples" / f"{script.stem}.html").is_file(), script.name
    # The conventions page draws its pictures.
    assert (site / "conventions.html").read_text(encoding="utf-8").count("<img") >= 3


def test_api_reference_documents_every_public_name(site):
    documented = _inventory(site)
    top = importlib.import_module("sklearn_rvae")
    missing = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in _public_names(module_name):
            # A re-export of a top-level estimator is documented once, at the top level.
            alias = f"sklearn_rvae.{name}" if getattr(top, name, None) is getattr(module, name) else None
            if f"{module_name}.{name}" not in documented and alias not in documented:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"public names missing from docs/api.rst: {missing}"
