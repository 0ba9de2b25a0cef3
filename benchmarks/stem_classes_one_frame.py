"""How long to train the classes' recipe on one HAADF frame (issue 22).

One default ``make_stem_image`` frame (256x256 px, about 760 atoms) per seed,
the classes' recipe (``AtomPatchExtractor(32, min_distance=5, mask="disk",
standardize=True, taper=5)``, ``RotationInvariantVAE(2, n_classes=4,
angle_prior="uniform", translation=False)``) at several ``max_epochs``;
balanced accuracy after the best one-to-one matching of classes to the
first-neighbour environments. Seeds 0-3 are neither the validation (300-305)
nor the test (1100-1103) seeds of bench_stem_atoms.py.

    PYTHONPATH=. .venv/bin/python benchmarks/stem_classes_one_frame.py
"""

import argparse
import time


from bench_stem_atoms import TAPER, labelled_patches, matched_balanced_accuracy
from sklearn_rvae import RotationInvariantVAE


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--epochs", default="60,120")
    args = parser.parse_args()
    print("seed  atoms  max_epochs  matched bal. acc.  train s")
    for seed in map(int, args.seeds.split(",")):
        X, y, _ = labelled_patches([seed], standardize=True, taper=TAPER)
        for epochs in map(int, args.epochs.split(",")):
            t = time.perf_counter()
            model = RotationInvariantVAE(2, n_classes=4, angle_prior="uniform", translation=False,
                                         max_epochs=epochs, device="cpu", random_state=0).fit(X)
            print(f"{seed:4d}  {len(X):5d}  {epochs:10d}  {matched_balanced_accuracy(y, model.labels_):17.3f}"
                  f"  {time.perf_counter() - t:7.1f}", flush=True)


if __name__ == "__main__":
    main()
