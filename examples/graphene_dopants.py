"""Si dopants in graphene, image to atom classes and trajectories.

A HAADF movie of doped graphene (``datasets.make_stem_movie``: 10 frames,
drift, scan jitter, Poisson noise, one Si dopant hopping at frame 5) goes
through the whole workflow:

1. ``find_atoms`` in every frame and ``link_atoms`` across frames;
2. a 32x32 px patch centred on every atom (``AtomPatchExtractor``: the
   disk of each patch, standardised and tapered to the first neighbours,
   the documented recipe for classes);
3. ``RotationInvariantVAE(n_classes=4)`` with a full-circle rotation prior
   (an atom's neighbourhood points in any direction), giving a 2-D code and
   a class per atom;
4. a class map over the first frame, and the codes of the atoms around the
   hopping dopant, frame by frame, with the frames where their class changes.

Run::

    python examples/graphene_dopants.py            # writes examples/out/graphene_dopants.png

The figure in docs/graphene_dopants.png comes from this command; the
benchmark with the accuracy figures is benchmarks/bench_stem_atoms.py.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_rvae import AtomPatchExtractor, RotationInvariantVAE
from sklearn_rvae.atoms import class_changes, find_atoms, link_atoms
from sklearn_rvae.datasets import make_stem_movie


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    frames, truth = make_stem_movie(n_frames=10, hop_frames=(5,), random_state=7)
    # 1. Atoms in every frame (graphene's C-C bond is 7.1 px at 0.2 A/px), linked.
    found = [pd.DataFrame(find_atoms(image, min_distance=5), columns=["row", "col"]).assign(frame=t)
             for t, image in enumerate(frames)]
    atoms = link_atoms(pd.concat(found, ignore_index=True), search_range=3)
    print(f"{len(atoms)} atoms in {len(frames)} frames, {atoms['atom'].nunique()} tracks")

    # 2-3. Patches at the linked positions, codes and classes.
    extractor = AtomPatchExtractor(32, min_distance=5, exclude_border=False, mask="disk", standardize=True, taper=5)
    X = extractor.transform_at(frames, atoms)
    rvae = RotationInvariantVAE(2, n_classes=4, angle_prior="uniform", translation=False,
                                max_epochs=args.epochs, random_state=0)
    atoms["class"] = rvae.fit_predict(X)
    atoms[["z1", "z2"]] = rvae.transform(X)

    # 4. The dopant that hops: the Si column nearest the centre of frame 0.
    si = truth[(truth.frame == 0) & (truth.element == "Si")]
    centre = np.array(frames.shape[1:]) / 2
    r0, c0 = si.iloc[np.argmin(np.hypot(si.row - centre[0], si.col - centre[1]))][["row", "col"]]
    first = atoms[atoms.frame == 0]
    near = first[np.hypot(first.row - r0, first.col - c0) < 10]["atom"].unique()
    changes = class_changes(atoms[atoms["atom"].isin(near)], column="class")
    print("class changes of the atoms around the hopping dopant:\n" + changes.to_string(index=False))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_rvae.plotting import plot_latent_map, plot_trajectories

    fig, (ax_map, ax_z, ax_t) = plt.subplots(1, 3, figsize=(16, 5.4))
    f0 = atoms[atoms.frame == 0]
    plot_latent_map(f0["class"], f0[["row", "col"]], image=frames[0], s=6, label="class", ax=ax_map)
    ax_map.add_patch(plt.Circle((c0, r0), 10, fill=False, color="yellow"))
    ax_map.set_title("frame 0: atoms by class (circle: the dopant that hops)")
    ax_map.set_axis_off()
    plot_trajectories(atoms, codes=("z1", "z2"), tracks=near, color_by="class", s=2, ax=ax_z)
    ax_z.set_title("codes by class; lines: the atoms near the hop")
    plot_trajectories(atoms, codes="z1", tracks=near, highlight_frames=[5], ax=ax_t)
    ax_t.set_title("z1 of the atoms near the hop (dotted: the hop)")
    fig.tight_layout()
    path = args.out / "graphene_dopants.png"  # docs/graphene_dopants.png is a copy
    fig.savefig(path, dpi=90)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
