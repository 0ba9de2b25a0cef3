"""One process of a two-process data-parallel fit (tests/test_parallel.py spawns it)."""

import os

import numpy as np
import torch
import torch.distributed as dist


def fit_on_rank(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        from sklearn_rvae import RotationInvariantVAE
        from sklearn_rvae.datasets import make_rotated_digits

        X = make_rotated_digits(size=12, max_angle=60, random_state=0)[0][:301]
        model = RotationInvariantVAE(hidden_layer_sizes=(32,), max_epochs=3, batch_size=50, n_init=2, device="cpu",
                                     random_state=0).fit(X)
        np.save(os.path.join(out, f"codes_{rank}.npy"), model.transform(X))
        np.save(os.path.join(out, f"losses_{rank}.npy"), model.init_losses_)
        from sklearn_rvae import TiltRegressor

        rng = np.random.default_rng(0)
        patches, tilts = rng.random((64, 64)), rng.normal(size=(64, 3))
        reg = TiltRegressor(network_shape=None, conv_layers=(4, "pool"), fc_units=8, zone_axis=None,
                            scan_correction=False, augment=False, max_epochs=2, batch_size=16, device="cpu",
                            random_state=0).fit(patches, tilts)
        np.save(os.path.join(out, f"tilts_{rank}.npy"), reg.predict(patches))
        try:
            RotationInvariantVAE(max_epochs=1, early_stopping=True, device="cpu").fit(X)
        except ValueError as exc:
            with open(os.path.join(out, f"error_{rank}.txt"), "w") as fh:
                fh.write(str(exc))
    finally:
        dist.destroy_process_group()
