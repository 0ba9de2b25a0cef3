"""Which frames of a scan have no usable centre of mass, and why: the flags COMTransformer reports.

A frame is left out of the calibration (and, without intensity, given a zero
shift by ``transform``) when it has no positive intensity, far less than the
median frame (a blanked beam), or a COM far off its scan neighbours' (a hot
pixel). Each reason has a code (``REASONS``); ``flag_frames`` gives every
frame its code and ``flagged_frames`` says which were left out, reason by
reason.
"""

import numpy as np


class EmptyFrameWarning(UserWarning):
    """Some frames have no usable centre of mass.

    They have no (masked) intensity, too little (a blanked frame), or a COM
    far off their scan neighbours' (a hot pixel); the message says which.
    """


class ExcludedFramesWarning(EmptyFrameWarning):
    """``fit`` left frames out of the calibration; ``excluded_frames_`` says which and why."""


# Why a frame is left out of the calibration (codes of ``flag_frames``).
REASONS = {
    1: "no positive (masked) intensity",
    2: "total intensity below 1% of the median frame's (a blanked frame)",
    3: "COM far off its scan neighbours' (a hot pixel or a cosmic-ray hit)",
}
# What transform makes of a frame so flagged.
TRANSFORM_EFFECT = {1: "COM shift set to 0", 2: "COM shift set to 0", 3: "COM shift kept"}
# A sample changes a frame's total by tens of per cent, a blanked beam or a
# flyback frame by orders of magnitude.
_LOW_TOTAL_FRACTION = 0.01
# A sample moves the COM smoothly across the scan; a hot pixel moves one
# frame's COM alone, by up to the detector's radius. A frame is an outlier
# when its distance to the median COM of its 3 x 3 scan neighbours exceeds
# this many times the larger of the median such distance (noise) and its
# 95th percentile over the scan divided by 3 (so that a noise-free scan,
# whose median distance is near 0, keeps its atoms' sharp fields).
_OUTLIER_FACTOR = 10.0


def flag_frames(total, com, scan_shape):
    """Per frame: 0 to keep for calibration, else the ``REASONS`` code that leaves it out."""
    flags = np.where(total > 0, 0, 1)
    positive = total[flags == 0]
    if len(positive) == 0:
        return flags
    flags[(flags == 0) & (total < _LOW_TOTAL_FRACTION * np.median(positive))] = 2
    kept = flags == 0
    if np.count_nonzero(kept) < 3:
        return flags
    centre = np.median(com[kept], axis=0)
    filled = np.where(kept[:, None], com, centre)
    if scan_shape is not None and min(scan_shape) >= 2:
        local = _median3x3(filled.reshape(*scan_shape, 2)).reshape(-1, 2)
    else:
        local = np.broadcast_to(centre, filled.shape)
    distance = np.hypot(*(filled - local).T)[kept]
    limit = _OUTLIER_FACTOR * max(np.median(distance), np.quantile(distance, 0.95) / 3)
    outlier = np.zeros_like(kept)
    outlier[kept] = distance > limit
    flags[outlier] = 3
    return flags


# Paeth's median-of-9 sorting network (19 compare-exchanges): element 4 ends
# as the median. Six times faster than scipy's median_filter on a 64 x 64 scan,
# which is a tenth of the whole transform of a 256 MiB cube.
_MEDIAN9 = [(1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3), (5, 8), (4, 7),
            (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2)]


def _median3x3(grid):
    """Median over each 3 x 3 scan neighbourhood of (sy, sx, c), edges repeated (``median_filter`` 'nearest')."""
    sy, sx = grid.shape[:2]
    padded = np.pad(grid, ((1, 1), (1, 1), (0, 0)), mode="edge")
    v = [padded[i : i + sy, j : j + sx] for i in range(3) for j in range(3)]
    for i, j in _MEDIAN9:
        v[i], v[j] = np.minimum(v[i], v[j]), np.maximum(v[i], v[j])
    return v[4]


def flagged_frames(flags, noun="", effect=None):
    """The frames ``flags`` leaves out, reason by reason (``REASONS``): count, reason, first positions.

    ``noun`` follows the count; ``effect`` (code -> text) adds what is done
    with each reason's frames, in brackets.
    """
    parts = []
    for code, reason in REASONS.items():
        idx = np.flatnonzero(flags == code)
        if len(idx):
            part = f"{len(idx)}{noun} with {reason}, first at positions {idx[:10].tolist()}"
            parts.append(part if effect is None else f"{part} ({effect[code]})")
    return "; ".join(parts)
