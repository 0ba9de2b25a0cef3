"""Train a peer TARGET-VAE (Nasiri & Bepler, NeurIPS 2022) and save its latents.

Runs inside the peer venv (it cannot import sklearn_rvae), against an extracted
copy of https://github.com/SMLC-NYSBC/TARGET-VAE whose own modules it imports:
``python _peer_target_vae.py X.npy EPOCHS SEED OUT.npz [--source DIR]``
(DIR defaults to $TARGET_VAE_SRC). Their scripts import torchvision and, for
``clustering_mnist``, seaborn and astropy, so run with
``PYTHONPATH=<torchvision stand-in>`` and those two PyPI packages installed.

X.npy holds (n, s, s) square images in [0, 1] (their loss is a Bernoulli
likelihood; other ranges are min-max scaled). OUT.npz gets ``z`` (posterior
means of the 2 content latents at the most probable translation/rotation cell,
as their ``clustering_mnist.get_latent`` reads them out), ``angle`` (degrees,
positive = counter-clockwise on screen like ``scipy.ndimage.rotate``, so
X ~ rotate(template, angle)) and ``sec_per_epoch`` (training wall time over
epochs, imports, data loading and read-out excluded).

Model: their TARGET-VAE defaults (train_*.py): translation inference by
attention, rotation inference 'attention+offsets' with a p8 group convolution
(8 discrete rotations plus a refinement, uniform prior over the 8 rotations,
i.e. the full circle), 128 kernels, spatial generator with 2 hidden layers of
512 and LeakyReLU. The first-layer kernel spans the whole image and the padding
is half the image size, as in their dSprites/galaxy defaults (64 and 32 for 64 x 64);
``--padding 0`` turns translation inference off. Adam with lr 1e-3 (their
default is 2e-4, ``--lr``), batch 100, no LR schedule or early stopping.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("x_path")
    p.add_argument("epochs", type=int)
    p.add_argument("seed", type=int)
    p.add_argument("out")
    p.add_argument("--source", default=os.environ.get("TARGET_VAE_SRC"))
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--groupconv", type=int, default=8, choices=[4, 8, 16])
    p.add_argument("--padding", type=int, default=None, help="encoder padding (default: image size // 2)")
    args = p.parse_args()
    if not args.source:
        raise SystemExit("pass --source DIR or set TARGET_VAE_SRC to the TARGET-VAE source tree")
    sys.path.insert(0, os.path.abspath(args.source))
    os.environ.setdefault("MPLBACKEND", "Agg")
    import src.models as models  # noqa: E402  (TARGET-VAE's own modules)
    import train_mnist  # noqa: E402
    from clustering_mnist import get_latent  # noqa: E402

    X = np.load(args.x_path).astype(np.float32)
    n, h, w = X.shape
    if h != w:
        raise SystemExit(f"TARGET-VAE needs square images, got {h} x {w}")
    lo, hi = float(X.min()), float(X.max())
    if lo < 0 or hi > 1:
        X = (X - lo) / (hi - lo)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    device = torch.device("cpu")
    s = h
    pad = s // 2 if args.padding is None else args.padding

    # pixel coordinates as in their train_*.py: x left to right, y top to bottom from 1 to -1
    x0, x1 = np.meshgrid(np.linspace(-1, 1, s), np.linspace(1, -1, s))
    x_coord = torch.from_numpy(np.stack([x0.ravel(), x1.ravel()], 1)).float()
    y = torch.from_numpy(X).view(n, 1, s, s)

    t_inf, r_inf, theta_prior, z_dim = "attention", "attention+offsets", np.pi, 2
    gen = models.SpatialGenerator(z_dim, 512, num_layers=2, activation=torch.nn.LeakyReLU,
                                  resid=False, fourier_expansion=False)
    enc = models.InferenceNetwork_AttentionTranslation_AttentionRotation(
        s, 1, z_dim, kernels_num=128, kernels_size=s, padding=pad, activation=torch.nn.LeakyReLU,
        groupconv=args.groupconv, rot_refinement=True, theta_prior=theta_prior,
        normal_prior_over_r=False)
    params = list(gen.parameters()) + list(enc.parameters())
    optim = torch.optim.Adam(params, lr=args.lr)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(y), batch_size=100, shuffle=True)

    t = time.perf_counter()
    for epoch in range(args.epochs):
        elbo, err, kl = train_mnist.train_epoch(
            loader, x_coord, gen, enc, optim, t_inf, r_inf, epoch, args.epochs, n, device,
            params, theta_prior, args.groupconv, s)
        print(f"epoch {epoch + 1}: ELBO={elbo:.3f} error={err:.3f} KL={kl:.3f}", file=sys.stderr)
    dt = time.perf_counter() - t

    enc.eval()
    z, theta = [], []
    for i in range(0, n, 100):
        zc, th, _ = get_latent(x_coord, y[i:i + 100], enc, t_inf, r_inf, device, s)
        z.append(zc[:, :z_dim].numpy())
        theta.append(th[:, 0].numpy())
    # Their generator renders the template at rot(theta) @ coords with y up, which is
    # scipy.ndimage.rotate(template, -theta): flip the sign, wrap to (-180, 180].
    angle = -np.rad2deg(np.concatenate(theta))
    angle = -((-angle + 180.0) % 360.0 - 180.0)
    np.savez(args.out, z=np.concatenate(z), angle=angle, sec_per_epoch=dt / max(args.epochs, 1))


if __name__ == "__main__":
    main()
