"""Property-based tests of the pure helpers (hypothesis)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_rvae._utils import resolve_image_shape
from sklearn_rvae.metrics import circular_correlation
from sklearn_rvae.rvae._geometry import warp_images

sides = st.integers(min_value=1, max_value=64)


@given(h=sides, w=sides)
def test_image_shape_inference(h, w):
    n = h * w
    assert resolve_image_shape((h, w), n) == (h, w)
    assert resolve_image_shape((h, -1), n) == (h, w)
    assert resolve_image_shape((-1, w), n) == (h, w)
    if h == w:
        assert resolve_image_shape(None, n) == (h, h)
    with pytest.raises(ValueError, match="image_shape"):
        resolve_image_shape((h, w + 1), n)


@given(
    angles=st.lists(st.floats(-179, 179), min_size=5, max_size=50, unique=True),
    offset=st.floats(-180, 180),
)
def test_circular_correlation_ignores_a_common_offset(angles, offset):
    a = np.array(angles)
    if np.ptp(a) < 1.0:  # all angles nearly equal: correlation undefined
        return
    assert circular_correlation(a, a + offset) == pytest.approx(1.0, abs=1e-9)
    assert circular_correlation(a, a + offset + 360.0) == pytest.approx(1.0, abs=1e-9)


@settings(deadline=None, max_examples=30)
@given(quarter_turns=st.integers(-3, 3), h=st.integers(2, 12), seed=st.integers(0, 1000))
def test_quarter_turn_warp_is_exact_rot90(quarter_turns, h, seed):
    # A rotation by k * 90 degrees about the centre maps pixel centres onto
    # pixel centres, so the warp must equal numpy's rot90 (CCW on screen).
    img = np.random.default_rng(seed).random((h, h))
    t = torch.tensor(img)[None, None]
    out = warp_images(t, torch.tensor([np.pi / 2 * quarter_turns], dtype=torch.float64), None)
    np.testing.assert_allclose(out[0, 0].numpy(), np.rot90(img, quarter_turns), atol=1e-9)
