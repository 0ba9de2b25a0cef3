"""The exact mirrors of a [110] ABF patch and what they do to the centre column's tilts."""

import matplotlib.pyplot as plt
import numpy as np

from sklearn_rvae.datasets import load_abf_fixture, mirror_patches_110

X, y = load_abf_fixture()
X4, y4 = mirror_patches_110(X[:1], y[:1])
side = int(np.sqrt(X.shape[1]))
captions = ["as simulated", "x -> -x (left-right)", "y -> -y (up-down)", "both (180 deg)"]

fig, axes = plt.subplots(1, 4, figsize=(8.0, 2.9), layout="constrained")
for ax, patch, tilts, caption in zip(axes, X4, y4, captions):
    ax.imshow(patch.reshape(side, side), cmap="gray")
    ax.set_title(f"{caption}\n({tilts[0]:+.1f}, {tilts[1]:+.1f}, {tilts[2]:+.1f})", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
axes[0].set_xlabel("x: [1-10]", fontsize=11)
axes[0].set_ylabel("y: [001]", fontsize=11)
fig.suptitle("(alpha, beta, gamma) of the centre B column, degrees", fontsize=12)
