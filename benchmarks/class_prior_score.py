"""The ELBO of ``RotationInvariantVAE(n_classes=k)`` under three priors of z, on the same networks.

Widened (the estimator's): each mode of the codes' mixture widened by the
posterior variance of its codes. Codes' modes: the mixture as fitted to the
posterior means (the prior before 2026-12-04). Standard normal: the prior of
``n_classes=None``. The classes do not depend on the choice (the
responsibilities use the codes' modes in all three); their balanced accuracy
after matching is shown for reference.

Rotated shapes (``make_rotated_shapes(n_samples, size=16, n_classes=3,
random_state=1)``, 30 epochs, full circle), three seeds per size, and one
default HAADF frame with the classes' recipe (seed 0, 120 epochs).

    PYTHONPATH=. .venv/bin/python benchmarks/class_prior_score.py
"""

import torch

from bench_stem_atoms import TAPER, labelled_patches, matched_balanced_accuracy
from sklearn_rvae import RotationInvariantVAE
from sklearn_rvae.datasets import make_rotated_shapes


def scores(model, X):
    """Mean ELBO per sample under the widened modes, the codes' modes and N(0, I)."""
    module = model.net_.module_
    prior = module.class_prior
    widened = model.score(X)
    widened_covariances = prior.covariances.clone()
    with torch.no_grad():
        prior.covariances.copy_(prior.code_covariances)
        codes = model.score(X)
        prior.covariances.copy_(widened_covariances)
    module.class_prior = None
    normal = model.score(X)
    module.class_prior = prior
    return widened, codes, normal


def report(data, X, y, model):
    widened, codes, normal = scores(model, X)
    print(f"{data:24s} {matched_balanced_accuracy(y, model.labels_):8.3f} {widened:9.1f} {codes:12.1f} {normal:9.1f}",
          flush=True)


def main():
    print(f"{'data':24s} {'matched':>8s} {'widened':>9s} {'codes modes':>12s} {'N(0, I)':>9s}")
    for n in (60, 150, 400):
        X, y, _ = make_rotated_shapes(n_samples=n, size=16, n_classes=3, random_state=1)
        for seed in range(3):
            model = RotationInvariantVAE(2, n_classes=3, angle_prior="uniform", max_epochs=30, device="cpu",
                                         random_state=seed).fit(X)
            report(f"shapes n={n} seed {seed}", X, y, model)
    X, y, _ = labelled_patches([0], standardize=True, taper=TAPER)
    model = RotationInvariantVAE(2, n_classes=4, angle_prior="uniform", translation=False, max_epochs=120,
                                 device="cpu", random_state=0).fit(X)
    report("HAADF frame, seed 0", X, y, model)


if __name__ == "__main__":
    main()
