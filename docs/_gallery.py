"""Gallery helpers that docs/conf.py names by their import path (so the Sphinx configuration stays picklable)."""

import builtins
from pathlib import Path


def example_file(gallery_conf, fname, when):
    """Give the running example a ``__file__``, as ``python examples/NAME.py`` would.

    sphinx-gallery runs an example's code without ``__file__``; the examples
    put their output under ``Path(__file__).parent / "out"``. It is set on
    ``builtins`` while the example runs (looked up after the example's own
    globals) and removed afterwards.
    """
    if when == "before" and fname is not None:
        dirs = gallery_conf["examples_dirs"]
        examples = Path(gallery_conf["src_dir"]) / (dirs if isinstance(dirs, (str, Path)) else dirs[0])
        builtins.__file__ = str((examples / Path(fname).name).resolve())
    elif hasattr(builtins, "__file__"):
        del builtins.__file__
