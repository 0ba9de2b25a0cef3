"""Train a peer rVAE (AtomAI rVAE or pyroVED iVAE) and save its latents.

Runs inside the peers' venv built by benchmarks/peers/setup.sh (it cannot
import sklearn_rvae): ``python _peer_rvae.py {atomai,pyroved} X.npy EPOCHS SEED OUT.npz``.
X.npy holds (n, h, w) images. OUT.npz gets ``z`` (posterior means of the
content latents), ``angle`` (degrees) and ``sec_per_epoch`` (training wall
time over epochs, imports and data loading excluded).
"""

import os
import sys
import tempfile
import time

import numpy as np
import torch


def main():
    which, x_path, epochs, seed, out = sys.argv[1:6]
    epochs, seed = int(epochs), int(seed)
    X = np.load(x_path).astype(np.float32)
    torch.manual_seed(seed)
    np.random.seed(seed)
    os.chdir(tempfile.mkdtemp())  # AtomAI writes ./model.tar every epoch
    if which == "atomai":
        import atomai as aoi

        m = aoi.models.rVAE(X.shape[1:], latent_dim=2, seed=seed)
        t = time.perf_counter()
        m.fit(
            X,
            training_cycles=epochs,
            batch_size=100,
            optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
        )
        dt = time.perf_counter() - t
        mean, _ = m.encode(X)
        angle, z = mean[:, 0], mean[:, 3:]  # [angle (rad), dx, dy, z...]
    elif which == "pyroved":
        import pyroved as pv

        m = pv.models.iVAE(X.shape[1:], latent_dim=2, invariances=["r"], seed=seed)
        tr = pv.trainers.SVItrainer(m, lr=1e-3)
        loader = pv.utils.init_dataloader(torch.tensor(X), batch_size=100)
        t = time.perf_counter()
        for _ in range(epochs):
            tr.step(loader)
        dt = time.perf_counter() - t
        loc, _ = m.encode(torch.tensor(X))
        loc = np.asarray(loc)
        angle, z = loc[:, 0], loc[:, 1:]  # [angle (rad), z...]
    else:
        raise SystemExit(f"unknown peer {which!r}")
    np.savez(out, z=np.asarray(z), angle=np.rad2deg(np.asarray(angle)), sec_per_epoch=dt / epochs)


if __name__ == "__main__":
    main()
