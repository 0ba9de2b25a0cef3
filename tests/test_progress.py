"""Progress lines of long work: printed with verbose, quiet without."""

import io

import numpy as np

from sklearn_rvae import COMTransformer
from sklearn_rvae._progress import Progress


def test_progress_counts_and_estimates_the_time_left():
    out = io.StringIO()
    progress = Progress("simulated", 10, verbose=True, unit="images", min_interval=0, stream=out)
    for _ in range(10):
        progress.advance()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[4].startswith("simulated: 5 of 10 images (50%), ") and "left" in lines[4]
    assert lines[-1].startswith("simulated: 10 of 10 images (100%), ") and "left" not in lines[-1]


def test_progress_prints_at_most_once_an_interval_but_always_the_end():
    out = io.StringIO()
    progress = Progress("read", 1000, verbose=1, unit="frames", min_interval=3600, stream=out)
    for _ in range(100):
        progress.advance(10)
    lines = out.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["read: 10 of 1000 frames (1%)", "read: 1000 of 1000 frames (100%)"]


def test_quiet_without_verbose():
    out = io.StringIO()
    progress = Progress("read", 3, verbose=0, stream=out)
    for _ in range(3):
        progress.advance()
    assert out.getvalue() == ""


def test_com_transformer_reports_the_frames_it_reads_only_when_verbose(capsys):
    data = np.random.default_rng(0).poisson(50.0, (6, 6, 8, 8)).astype(np.float32)
    COMTransformer(device="cpu").fit(data).transform(data)
    assert capsys.readouterr().out == ""
    COMTransformer(device="cpu", verbose=1).fit(data)
    assert "COMTransformer: 36 of 36 frames read (100%)" in capsys.readouterr().out


def test_training_prints_its_epochs_and_losses_only_when_verbose(capsys):
    from sklearn_rvae import RotationInvariantVAE, TiltRegressor

    X = np.random.default_rng(0).random((32, 64))
    RotationInvariantVAE(max_epochs=2, device="cpu", random_state=0).fit(X)
    assert capsys.readouterr().out == ""
    RotationInvariantVAE(max_epochs=2, device="cpu", random_state=0, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out and len(out.splitlines()) >= 4  # header, rule, 2 epochs
    tilt = dict(network_shape=None, conv_layers=(4, "pool"), fc_units=8, zone_axis=None, scan_correction=False,
                augment=False, max_epochs=2, device="cpu", random_state=0)
    TiltRegressor(**tilt, verbose=1).fit(X, np.random.default_rng(1).normal(size=(32, 3)))
    assert "train_loss" in capsys.readouterr().out
