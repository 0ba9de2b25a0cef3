"""Atom-resolved HAADF images of doped graphene (issue 22): find, classify, track.

Data: sklearn_rvae.datasets.make_stem_image / make_stem_movie at their
defaults (256x256 px at 0.2 A/px, probe 1.0 A FWHM, 12 Si and 6 vacancies,
scan-row jitter 0.2 px, Poisson noise), test seeds only (the validation
seeds of the design choices were 200-202 and 300-305).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_stem_atoms.py find [--peers]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_stem_atoms.py classes [--peers]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_stem_atoms.py movie

find: five frames (seeds 1000-1004) at 40 and at 10 counts per carbon column,
and at 40 without scan-row jitter (the floor the jitter sets).
Recall (true columns with a detection within 2 px), precision (detections
with a true column within 2 px) and the RMSE of the matched positions, over
columns whose centre is at least 2 px inside the frame and over all. With
--peers, Atomap 0.4.2 (get_atom_positions, centre-of-mass then 2-D Gaussian
refinement, in the peer venv; --atomap-separation 3, its best recall on the
validation frames, --validation) on the same frames; seconds per frame, ours
and Atomap's, timed in the same run.

classes: four frames (seeds 1100-1103) at 40 counts; 32x32 patches at the
columns find_atoms returns, labelled by the true column within 2 px (the
others are counted and left out). 5-fold 5-NN balanced accuracy on the codes
(the model fitted on all patches, unsupervised), for PCA, NMF and
RotationInvariantVAE on the disk of each patch, standardised
(AtomPatchExtractor(mask="disk", standardize=True): the documented recipe)
and on raw counts; n_classes=4 balanced accuracy after the best one-to-one
matching of classes to labels, with the codes' recipe and with the classes'
recipe (the patches tapered to the first shell, AtomPatchExtractor(taper=5),
and the full circle). With --peers, AtomAI's jrVAE (latent_dim=2,
discrete_dim=[4]) on the classes' standardised, tapered patches.

movie: make_stem_movie(n_frames=10, random_state=1200): find_atoms per frame,
link_atoms(search_range=3), the share of links to the right column in the
next frame (each detection named by its true column within 2 px), and the
frame where each column's class (the rVAE's n_classes=4 with the classes'
recipe, its "Si" class being the one most true Si fall in) changes, for the columns whose window lies in the
frame, every change and those that last two frames on both sides.
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _peers  # the peers' venv (benchmarks/peers/setup.sh)
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.decomposition import NMF, PCA
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from sklearn_rvae import AtomPatchExtractor, RotationInvariantVAE
from sklearn_rvae.atoms import class_changes, find_atoms, link_atoms
from sklearn_rvae.datasets import environment_names, make_stem_image, make_stem_movie
from sklearn_rvae.metrics import matched_balanced_accuracy

HERE = Path(__file__).resolve().parent
MIN_DISTANCE = 5.0
WINDOW = 32
# The documented recipe for atom-centred patches of a crystal (chosen on seeds 300-305).
RECIPE = dict(angle_prior="uniform", rotation_symmetry=3, translation=False, max_epochs=60)
# The documented recipe for classes by first neighbours (chosen on the same seeds): the
# patches tapered to the first shell (0.7 bond), the full circle (rotation_symmetry=1).
TAPER = 5.0
CLASS_RECIPE = dict(angle_prior="uniform", translation=False, max_epochs=60)


def run_peer(script, args):
    _peers.run_peer(script, *args, stdout=subprocess.DEVNULL)


def match_scores(found, truth, size, margin):
    """Recall, precision, RMSE over the columns at least ``margin`` px inside the frame."""
    def inside(p):
        return np.all((p >= margin - 0.5) & (p <= size - 0.5 - margin), axis=1)
    t_in, f_in = truth[inside(truth)], found[inside(found)]
    d_t, _ = cKDTree(found).query(t_in)
    d_f, _ = cKDTree(truth).query(f_in)
    hit = d_t < 2
    return {"recall": np.mean(hit), "precision": np.mean(d_f < 2), "rmse": np.sqrt(np.mean(d_t[hit] ** 2))}


def part_find(args):
    rows = []
    seeds = range(200, 203) if args.validation else range(1000, 1005)
    conditions = [(40, {}), (10, {}), (40, {"scan_jitter": 0.0})]
    for dose, extra in conditions:
        frames = [make_stem_image(peak_counts=dose, random_state=s, **extra) for s in seeds]
        results = {"find_atoms": []}
        t0 = time.perf_counter()
        for image, _ in frames:
            results["find_atoms"].append(find_atoms(image, min_distance=MIN_DISTANCE))
        seconds = {"find_atoms": (time.perf_counter() - t0) / len(frames)}
        if args.peers:
            with tempfile.TemporaryDirectory() as tmp:
                np.save(Path(tmp) / "images.npy", np.stack([im for im, _ in frames]))
                run_peer("_peer_atomap.py", [Path(tmp) / "images.npy", args.atomap_separation, Path(tmp) / "out.npz"])
                out = np.load(Path(tmp) / "out.npz")
                results["Atomap"] = [out[f"positions_{i}"] for i in range(len(frames))]
                seconds["Atomap"] = float(np.mean(out["seconds_find"] + out["seconds_refine"]))
        for method, positions in results.items():
            for margin, where in ((2, ">= 2 px inside"), (0, "all")):
                s = pd.DataFrame([match_scores(p, at[["row", "col"]].to_numpy(), 256, margin)
                                  for p, (_, at) in zip(positions, frames)]).mean()
                rows.append({"counts": dose, "scan jitter": extra.get("scan_jitter", 0.2), "method": method,
                             "columns": where, **s.to_dict(),
                             "s/frame": seconds[method]})
                print(pd.DataFrame([rows[-1]]).to_string(index=False, header=len(rows) == 1,
                                                          float_format="%.3f"), flush=True)
    return pd.DataFrame(rows)


def labelled_patches(seeds, standardize, taper=None):
    """Patches at the found columns, with the environment of the true column within 2 px."""
    X, y, n_unmatched = [], [], 0
    ext = AtomPatchExtractor(WINDOW, min_distance=MIN_DISTANCE, mask="disk" if standardize else None,
                             standardize=standardize, taper=taper)
    for s in seeds:
        image, atoms = make_stem_image(random_state=s)
        where = ext.locate(image)
        d, j = cKDTree(atoms[["row", "col"]].to_numpy()).query(where[["row", "col"]].to_numpy())
        ok = d < 2
        n_unmatched += int((~ok).sum())
        X.append(ext.transform_at(image, where[ok]))
        y.append(atoms["label"].to_numpy()[j[ok]])
    return np.concatenate(X), np.concatenate(y), n_unmatched


def knn_balanced_accuracy(Z, y):
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(KNeighborsClassifier(5), Z, y, cv=cv, scoring="balanced_accuracy").mean()


def part_classes(args):
    seeds = range(1100, 1104)
    rows = []

    def report(row):
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1, float_format="%.3f"), flush=True)

    for standardize in (True, False):
        X, y, n_unmatched = labelled_patches(seeds, standardize)
        scaling = "standardised" if standardize else "raw counts"
        if standardize:
            print(f"{len(X)} patches {dict(zip(environment_names(), np.bincount(y)))}; "
                  f"{n_unmatched} detections without a true column within 2 px left out", flush=True)
        for k in (2, 4):
            report({"input": scaling, "method": f"PCA({k})", "5-NN bal. acc.": knn_balanced_accuracy(PCA(k).fit_transform(X), y)})
            if not standardize:
                nmf = NMF(k, init="nndsvda", max_iter=1000, random_state=0)
                report({"input": scaling, "method": f"NMF({k})", "5-NN bal. acc.": knn_balanced_accuracy(nmf.fit_transform(X), y)})
            t = time.perf_counter()
            est = RotationInvariantVAE(k, random_state=0, device="cpu", **RECIPE).fit(X)
            report({"input": scaling, "method": f"RotationInvariantVAE({k})",
                    "5-NN bal. acc.": knn_balanced_accuracy(est.transform(X), y),
                    "train s": time.perf_counter() - t})
        for recipe, taper in (("", None), (f", taper {TAPER:g}", TAPER)):
            Xc = X if taper is None else labelled_patches(seeds, standardize, taper)[0]
            est = RotationInvariantVAE(2, n_classes=4, random_state=0, device="cpu",
                                       **(RECIPE if taper is None else CLASS_RECIPE))
            t = time.perf_counter()
            classes = est.fit_predict(Xc)
            report({"input": scaling + recipe, "method": "RotationInvariantVAE(2, n_classes=4)"
                    + ("" if taper is None else ", rotation_symmetry=1"),
                    "5-NN bal. acc.": knn_balanced_accuracy(est.transform(Xc), y),
                    "matched class bal. acc.": matched_balanced_accuracy(y, classes),
                    "train s": time.perf_counter() - t})
            if standardize and taper is not None:
                Xs = Xc
    if args.peers:
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "X.npy", Xs.reshape(-1, WINDOW, WINDOW).astype(np.float32))
            run_peer("_peer_jrvae.py", [Path(tmp) / "X.npy", 4, args.jrvae_epochs, 0, Path(tmp) / "out.npz"])
            out = np.load(Path(tmp) / "out.npz")
            report({"input": f"standardised, taper {TAPER:g}",
                    "method": f"AtomAI jrVAE (2, 4 classes), {args.jrvae_epochs} epochs",
                    "5-NN bal. acc.": knn_balanced_accuracy(out["z"], y),
                    "matched class bal. acc.": matched_balanced_accuracy(y, out["classes"]),
                    "train s": float(out["sec_per_epoch"]) * args.jrvae_epochs})
    return pd.DataFrame(rows)


def part_movie(args):
    frames, truth = make_stem_movie(n_frames=10, random_state=1200)
    found = []
    for t, image in enumerate(frames):
        pos = find_atoms(image, min_distance=MIN_DISTANCE)
        found.append(pd.DataFrame({"frame": t, "row": pos[:, 0], "col": pos[:, 1]}))
    atoms = link_atoms(pd.concat(found, ignore_index=True), search_range=3)
    # Name every detection by its true column (within 2 px) in its frame.
    atoms["site"] = -1
    for t in range(len(frames)):
        tt = truth[truth.frame == t]
        sel = atoms.frame == t
        d, j = cKDTree(tt[["row", "col"]].to_numpy()).query(atoms.loc[sel, ["row", "col"]].to_numpy())
        atoms.loc[sel, "site"] = np.where(d < 2, tt["atom_id"].to_numpy()[j], -1)
    nxt = atoms.assign(frame=atoms.frame - 1)[["frame", "atom", "site"]]
    pairs = atoms[["frame", "atom", "site"]].merge(nxt, on=["frame", "atom"], suffixes=("", "_next"))
    named = (pairs.site >= 0) & (pairs.site_next >= 0)
    right = float(np.mean(pairs.site[named] == pairs.site_next[named]))
    # True columns present in consecutive frames that got no link at all.
    size = frames.shape[1]
    truth["inside"] = truth[["row", "col"]].apply(lambda p: p.between(1.5, size - 2.5)).all(axis=1)
    t_pairs = truth[["frame", "atom_id", "inside"]].merge(
        truth.assign(frame=truth.frame - 1)[["frame", "atom_id", "inside"]], on=["frame", "atom_id"])
    good = pairs[named & (pairs.site == pairs.site_next)][["frame", "site"]].rename(columns={"site": "atom_id"})
    t_pairs = t_pairs.merge(good.assign(linked=True), how="left", on=["frame", "atom_id"])
    t_pairs["linked"] = t_pairs["linked"].fillna(False).astype(bool)
    both_inside = t_pairs.inside_x & t_pairs.inside_y
    print(f"links: {len(pairs)}, of which {int(named.sum())} join two detections of true columns; "
          f"to the right column: {right:.4f}. True column pairs in consecutive frames linked right: "
          f"{t_pairs.linked.mean():.4f} of {len(t_pairs)} ({t_pairs.linked[both_inside].mean():.4f} of "
          f"{int(both_inside.sum())} with both centres >= 2 px inside)", flush=True)

    ext = AtomPatchExtractor(WINDOW, min_distance=MIN_DISTANCE, exclude_border=False, mask="disk", standardize=True,
                             taper=TAPER)
    X = ext.transform_at(frames, atoms)
    est = RotationInvariantVAE(2, n_classes=4, random_state=0, device="cpu", **CLASS_RECIPE)
    atoms["class"] = est.fit_predict(X)
    atoms[["z1", "z2"]] = est.transform(X)
    element = truth.set_index(["frame", "atom_id"])["element"]
    atoms["element"] = [element.get((f, s), "?") for f, s in zip(atoms.frame, atoms.site)]
    si_class = atoms[atoms.element == "Si"]["class"].mode()[0]
    atoms["is_si"] = atoms["class"] == si_class
    # Atoms whose window lies inside the frame (a padded patch is a different image).
    half = (WINDOW - 1) / 2
    size = frames.shape[1] - 1
    inner = atoms[atoms[["row", "col"]].apply(lambda p: p.between(half, size - half)).all(axis=1)]
    env = truth.pivot_table(index="atom_id", columns="frame", values="label", aggfunc="first")
    elem = truth.pivot_table(index="atom_id", columns="frame", values="element", aggfunc="first")
    hop_sites = elem.index[elem.nunique(axis=1) > 1].tolist()
    env_sites = env.index[env.nunique(axis=1) > 1].tolist()
    site_of = inner.groupby("atom")["site"].agg(lambda s: s.mode()[0])
    print(f"Si class {si_class} (true Si in it: {np.mean(atoms[atoms.element == 'Si']['class'] == si_class):.3f}, "
          f"other columns in it: {int((atoms['is_si'] & (atoms.element != 'Si')).sum())}); "
          f"true hop sites {hop_sites}; sites whose environment changes {env_sites}")
    for min_frames in (1, 2):
        changes = class_changes(inner, column="is_si", min_frames=min_frames)
        changes["site"] = site_of.reindex(changes["atom"]).to_numpy()
        changes["hop site"] = changes["site"].isin(hop_sites)
        changes["environment changes"] = changes["site"].isin(env_sites)
        print(f"changes of the Si class, min_frames={min_frames}: {len(changes)}, by frame "
              f"{changes.frame.value_counts().sort_index().to_dict()}")
        if min_frames == 2:
            print(changes.to_string(index=False), flush=True)
    atoms.to_csv(args.out / "stem_movie_atoms.csv", index=False)
    return {"links right": right, "changes": changes}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", choices=["find", "classes", "movie"])
    p.add_argument("--peers", action="store_true")
    p.add_argument("--jrvae-epochs", type=int, default=30)
    p.add_argument("--atomap-separation", type=int, default=3,
                   help="Atomap's peak separation, px (3 gave its best recall on the validation frames: "
                        "0.956 at 40 counts, against 0.879 for 4)")
    p.add_argument("--validation", action="store_true", help="find: the validation frames (seeds 200-202)")
    p.add_argument("--out", type=Path, default=HERE / "out")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.peers:
        _peers.require_peers()
    import torch

    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)", flush=True)
    result = {"find": part_find, "classes": part_classes, "movie": part_movie}[args.part](args)
    if isinstance(result, pd.DataFrame):
        result.to_csv(args.out / f"stem_atoms_{args.part}.csv", index=False)
        print("\n" + result.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main(sys.argv[1:])
