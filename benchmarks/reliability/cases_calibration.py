"""Calibration of COMTransformer on a scan with bad frames -- blanked, one dark count, a negative
total, a hot pixel -- must match the clean scan's centre and rotation, report the bad frame and give
finite COM output; includes issue 23's first reproducer.
"""

import numpy as np

from .fixtures import com_est
from .harness import add


def build():
    """Add the 'calibration' cases to CASES, in order."""
    # Real detectors: a blanked frame, a hot pixel, a frame whose total is
    # near zero or negative must not move the calibration of the others
    # (issue 23's first reproducer), and their COM output must be finite.
    cat = "calibration"

    def gradient_scan(scan=(12, 12), k=16, rotation_deg=30.0):
        """A disk deflected by the gradient of Gaussian 'atoms', turned by the scan rotation: a calibratable scan."""
        sy, sx = scan
        yy, xx = np.mgrid[:sy, :sx].astype(float)
        phi = sum(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.5**2))
                  for cy in (3, 9) for cx in (3, 9))
        gy, gx = np.gradient(phi)
        t = np.deg2rad(rotation_deg)
        dx = 2 * (np.cos(t) * gx + np.sin(t) * gy)
        dy = 2 * (-np.sin(t) * gx + np.cos(t) * gy)
        ky, kx = np.mgrid[:k, :k].astype(float)
        c = (k - 1) / 2
        disk = np.exp(-((ky[None, None] - c - dy[..., None, None]) ** 2
                        + (kx[None, None] - c - dx[..., None, None]) ** 2) / (2 * 2.0**2))
        return np.round(100 * disk + 1)

    def calibration_vs_clean(make_bad):
        def run():
            X = gradient_scan()
            clean = com_est(scan_shape=None).fit(X)
            bad = make_bad(X.copy())
            est = com_est(scan_shape=None).fit(bad)
            return clean, est, est.transform(bad)

        def check(result):
            clean, est, out = result
            if not np.all(np.isfinite(out)):
                return "non-finite COM output"
            moved = np.max(np.abs(est.center_ - clean.center_))
            if moved > 0.05:
                return f"centre moved by {moved:.3f} px from the clean scan's"
            if abs(est.rotation_deg_ - clean.rotation_deg_) > 1.0 or est.flip_ != clean.flip_:
                return (f"rotation/flip moved: {est.rotation_deg_:.2f}/{est.flip_} vs "
                        f"{clean.rotation_deg_:.2f}/{clean.flip_}")
            if len(est.excluded_frames_) == 0:
                return "the bad frame was not reported in excluded_frames_"
            return None

        return run, check

    def reproducer():
        a = np.ones((4, 4, 8, 8))
        a[..., 3:5, 3:5] = 20
        a[0, 0] = -0.2
        a[0, 0, 0, 7] = 13.3
        est = com_est(scan_shape=None).fit(a)
        return est, est.transform(a)

    def reproducer_check(result):
        est, out = result
        if not np.allclose(est.center_, [3.5, 3.5]) or est.rotation_deg_ != 0.0:
            return f"centre {est.center_} / rotation {est.rotation_deg_} instead of (3.5, 3.5) / 0"
        if not np.allclose(out, 0.0):
            return f"other frames' COM moved (max {np.abs(out).max():.3g} px)"
        return None

    add(cat, "COMTransformer", "issue 23 reproducer: one frame with near-zero total (negative pixels, one bright)",
        reproducer, expect="ok", check=reproducer_check)

    def blank(X):
        X[2, 5] = 0.0
        return X

    def dark_counts(X):
        X[6, 1] = 0.0
        X[6, 1, 3, 4] = 1.0
        return X

    def negative_total(X):
        X[3, 3] = -1.0
        return X

    def hot_pixel(X):
        X[4, 6, 0, 15] += 5e4
        return X

    def hot_and_blank(X):
        return hot_pixel(dark_counts(X))

    for desc, make_bad in [("a blanked frame (all zero)", blank), ("a blanked frame (one dark count)", dark_counts),
                           ("a frame with negative total", negative_total),
                           ("a hot pixel at the detector corner", hot_pixel),
                           ("a hot pixel and a blanked frame", hot_and_blank)]:
        run, check = calibration_vs_clean(make_bad)
        add(cat, "COMTransformer", f"{desc}: calibration as on the clean scan, finite COM", run,
            expect="ok", check=check)
