"""Train AtomAI's joint rotationally-invariant VAE (jrVAE) and save its latents.

Runs inside the peers' venv built by benchmarks/peers/setup.sh (it cannot
import sklearn_rvae): ``python _peer_jrvae.py PATCHES.npy N_CLASSES EPOCHS SEED OUT.npz``.
PATCHES.npy holds (n, h, w) float images. The call sequence is::

    m = atomai.models.jrVAE((h, w), latent_dim=2, discrete_dim=[N_CLASSES], seed=SEED)
    m.fit(X, training_cycles=EPOCHS, batch_size=100,
          optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))
    z_mean, z_logsd, alphas = m.encode(X)

Everything else is AtomAI 0.8.1's default, as in _peer_rvae.py: MLP encoder
and decoder (2 layers of 128), translation=True, loss="mse",
rotation_prior=0.1, translation_prior=0.1, Gumbel-softmax temperature 0.67,
and the information-capacity schedule cont_capacity = disc_capacity =
[5.0, 25000, 30] (max capacity in nats, iterations to reach it, gamma). That
schedule is AtomAI's documented default, taken from Dupont's JointVAE
(arXiv:1804.00104); it is not tuned here. Note that it is counted in
optimiser steps: with batch_size=100 the capacity grows by 5 nats per 250,000
training images, so short runs keep both KL terms pinned near zero with
weight 30.

OUT.npz gets ``z`` (posterior means of the two content latents, (n, 2)),
``angle`` (posterior mean of the rotation latent, degrees), ``classes``
(argmax of the discrete latent, (n,)), ``proba`` (the encoder's softmax
"alphas" for the discrete latent, (n, N_CLASSES)) and ``sec_per_epoch``
(training wall time over epochs, imports, data loading and encoding excluded).
"""

import os
import sys
import tempfile
import time

import numpy as np
import torch


def main():
    x_path, n_classes, epochs, seed, out = sys.argv[1:6]
    n_classes, epochs, seed = int(n_classes), int(epochs), int(seed)
    out = os.path.abspath(out)
    X = np.load(x_path).astype(np.float32)
    torch.manual_seed(seed)
    np.random.seed(seed)
    os.chdir(tempfile.mkdtemp())  # AtomAI writes ./model.tar every epoch
    import atomai as aoi

    m = aoi.models.jrVAE(X.shape[1:], latent_dim=2, discrete_dim=[n_classes], seed=seed)
    t = time.perf_counter()
    m.fit(
        X,
        training_cycles=epochs,
        batch_size=100,
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
    )
    dt = time.perf_counter() - t
    mean, _, alphas = m.encode(X)
    # mean columns: [angle (rad), dx, dy, z...]; alphas: softmax over the classes
    angle, z = mean[:, 0], mean[:, 3:]
    proba = np.asarray(alphas)[:, :n_classes]
    np.savez(
        out,
        z=np.asarray(z),
        angle=np.rad2deg(np.asarray(angle)),
        classes=proba.argmax(1),
        proba=proba,
        sec_per_epoch=dt / epochs,
    )


if __name__ == "__main__":
    main()
