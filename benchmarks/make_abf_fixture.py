"""Write the committed ABF fixture (``sklearn_rvae.datasets.load_abf_fixture``).

Reads (or simulates, about 3 s per image on a 2-core CPU) the first 64
images of the benchmark's SrTiO3 training stream::

    PYTHONPATH=. .venv/bin/python benchmarks/make_abf_fixture.py
"""

from pathlib import Path

import numpy as np

from sklearn_rvae.datasets import make_perovskite_abf
from sklearn_rvae.datasets import ABF_FIXTURE_SETTINGS

ROOT = Path(__file__).resolve().parent

X, y, _, _ = make_perovskite_abf(64, cache_dir=ROOT / "out" / "abf_cache", n_jobs=2, **ABF_FIXTURE_SETTINGS)
out = ROOT.parent / "sklearn_rvae" / "datasets" / "data" / "srtio3_abf_fixture.npz"
np.savez_compressed(out, X=X.astype(np.float16), y=y)
print(f"wrote {out}: X {X.shape}, y {y.shape}, {out.stat().st_size / 1e3:.0f} kB")
