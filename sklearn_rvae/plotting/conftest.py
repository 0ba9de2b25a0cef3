"""The doctests of sklearn_rvae.plotting: skipped without matplotlib (the ``plot`` extra), drawn with Agg."""

import pytest


@pytest.fixture(autouse=True)
def _agg_backend():
    matplotlib = pytest.importorskip("matplotlib", reason="sklearn_rvae.plotting needs matplotlib (the plot extra)")
    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
