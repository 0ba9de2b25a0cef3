"""The pose convention: row 0 at the top, x right, y down, positive angles counter-clockwise."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch

from sklearn_rvae.datasets import make_rotated_shapes

size = 32
X, y, angle = make_rotated_shapes(n_samples=240, size=size, n_classes=1, max_angle=180, max_shift=0.0,
                                  noise=0.0, random_state=0)
images = X.reshape(-1, size, size)
picks = [int(np.argmin(np.abs(angle - a))) for a in (0.0, 60.0, -60.0)]
captions = ["upright", "counter-clockwise", "clockwise"]

fig, axes = plt.subplots(1, 3, figsize=(8.0, 3.3), layout="constrained")
c = (size - 1) / 2
for ax, i, caption in zip(axes, picks, captions):
    ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1.6)
    ax.set_title(f"angle = {angle[i]:+.1f} deg\n{caption}", fontsize=11)
    ax.set_xticks([0, size - 1])
    ax.set_yticks([0, size - 1])
    if abs(angle[i]) > 1:
        # On screen (row 0 at the top) counter-clockwise runs from +x towards -y.
        t = np.radians(np.linspace(0, angle[i], 30))
        r = 0.42 * size
        ax.plot(c + r * np.cos(t), c - r * np.sin(t), color="tab:red", lw=1.5)
        ax.add_patch(FancyArrowPatch((c + r * np.cos(t[-2]), c - r * np.sin(t[-2])),
                                     (c + r * np.cos(t[-1]), c - r * np.sin(t[-1])),
                                     arrowstyle="-|>", mutation_scale=14, color="tab:red"))
        ax.plot([c, c + r], [c, c], color="tab:red", lw=0.8, ls=":")
ax = axes[0]
ax.annotate("", xy=(c + 12, c), xytext=(c, c), arrowprops=dict(arrowstyle="-|>", color="tab:blue", lw=1.5))
ax.annotate("", xy=(c, c + 12), xytext=(c, c), arrowprops=dict(arrowstyle="-|>", color="tab:blue", lw=1.5))
ax.text(c + 4.0, c - 1.0, "+x, dx", color="tab:blue", fontsize=10, va="bottom")
ax.text(c + 1.0, c + 13.0, "+y, dy", color="tab:blue", fontsize=10, va="top")
ax.set_xlabel("col")
ax.set_ylabel("row (0 at the top)")
fig.suptitle("angles as make_rotated_shapes and transform_pose report them", fontsize=12)
