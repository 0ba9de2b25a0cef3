"""Progress of long work: a tqdm bar with verbose, quiet without."""

import io

import numpy as np

from sklearn_rvae import COMTransformer
from sklearn_rvae._progress import Progress


def test_progress_is_a_tqdm_bar_that_closes_at_the_end():
    out = io.StringIO()
    progress = Progress("simulated", 10, verbose=True, unit="images", min_interval=0, stream=out)
    for _ in range(10):
        progress.advance()
    text = out.getvalue()
    assert "simulated:  50%" in text and "5/10" in text
    assert "simulated: 100%" in text and "10/10" in text and "images/s" in text
    assert progress.done == 10


def test_quiet_without_verbose():
    out = io.StringIO()
    progress = Progress("read", 3, verbose=0, stream=out)
    for _ in range(3):
        progress.advance()
    assert out.getvalue() == "" and progress.done == 3


def test_com_transformer_reports_the_frames_it_reads_only_when_verbose(capsys):
    data = np.random.default_rng(0).poisson(50.0, (6, 6, 8, 8)).astype(np.float32)
    COMTransformer(device="cpu").fit(data).transform(data)
    assert capsys.readouterr() == ("", "")
    COMTransformer(device="cpu", verbose=1).fit(data)
    assert "COMTransformer: 100%" in capsys.readouterr().err


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
