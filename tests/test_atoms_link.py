import numpy as np
import pandas as pd
import pytest

from sklearn_rvae.atoms import _link, class_changes, link_atoms
from sklearn_rvae.datasets import make_stem_movie


def _links(table, track):
    """Consecutive-frame links: the set of (index in frame t, index in frame t + 1) of one track."""
    s = table.sort_values([track, "frame"], kind="stable")
    a, f, idx = s[track].to_numpy(), s["frame"].to_numpy(), s.index.to_numpy()
    ok = (a[1:] == a[:-1]) & (f[1:] == f[:-1] + 1)
    return set(zip(idx[:-1][ok].tolist(), idx[1:][ok].tolist()))


def _scores(linked, truth):
    """Recall and precision of the consecutive-frame links against the lattice sites."""
    true, found = _links(truth, "atom_id"), _links(linked, "atom")
    return len(true & found) / len(true), len(true & found) / max(len(found), 1)


def _tracks(table, track):
    return set(table.sort_values("frame", kind="stable").groupby(track).apply(lambda x: tuple(x.index)))


def _walks(n=300, n_frames=8, step=1.0, box=100.0, drop=0.0, seed=0):
    """Crowded random walkers, some missing from some frames: linking them is ambiguous."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, box, (n, 2))
    tables = []
    for t in range(n_frames):
        keep = rng.random(n) >= drop
        tables.append(pd.DataFrame({"frame": t, "row": p[keep, 0], "col": p[keep, 1]}))
        p = p + step * rng.standard_normal(p.shape)
    return pd.concat(tables, ignore_index=True)


def _true_steps(truth):
    """Median frame-to-frame displacement of the lattice sites: the drift, (n_frames - 1, 2)."""
    wide = truth.pivot(index="atom_id", columns="frame", values=["row", "col"])
    return np.column_stack(
        [np.nanmedian(np.diff(wide[c].to_numpy(), axis=1), axis=0) for c in ("row", "col")]
    )


@pytest.fixture(scope="module")
def movie():
    # Default drift (1.5, -1.0) px per frame with 0.5 px jitter; a Si hop at frame 5.
    _, atoms = make_stem_movie(n_frames=10, size=128, dopants={"Si": 3}, n_vacancies=2,
                               hop_frames=(5,), random_state=0)
    return atoms


def test_link_atoms_recovers_lattice_sites(movie):
    linked = link_atoms(movie, search_range=2.0)
    recall, precision = _scores(linked, movie)
    assert recall >= 0.99 and precision >= 0.99
    # a copy: same rows, order, index and columns, plus ``atom``
    assert linked.index.equals(movie.index) and "atom" not in movie
    pd.testing.assert_frame_equal(linked.drop(columns="atom"), movie)
    assert linked["atom"].dtype == np.int64
    assert not linked.duplicated(["atom", "frame"]).any()
    # numbered 0 .. n_tracks - 1 in order of first appearance
    first = linked.sort_values("frame", kind="stable").drop_duplicates("atom")["atom"]
    np.testing.assert_array_equal(first, np.arange(linked["atom"].nunique()))
    drift = np.asarray(linked.attrs["drift"])
    assert drift.shape == (10, 2) and np.all(drift[0] == 0)
    np.testing.assert_allclose(np.diff(drift, axis=0), _true_steps(movie), atol=0.05)


def test_link_atoms_keeps_order_and_index_of_shuffled_input(movie):
    shuffled = movie.sample(frac=1.0, random_state=1)
    shuffled.index = [f"a{i}" for i in range(len(shuffled))]
    linked = link_atoms(shuffled, search_range=2.0)
    assert linked.index.equals(shuffled.index)
    np.testing.assert_array_equal(linked["row"], shuffled["row"])
    recall, precision = _scores(linked, shuffled)
    assert recall >= 0.99 and precision >= 0.99
    # the attrs survive pandas' own comparisons of attrs (concat, merge)
    assert len(pd.concat([linked, linked])) == 2 * len(linked)


@pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")  # trackpy on pandas 3
def test_link_atoms_agrees_with_trackpy(movie):
    trackpy = pytest.importorskip("trackpy")
    trackpy.quiet()
    linked = link_atoms(movie, search_range=2.0)
    drift = np.asarray(linked.attrs["drift"])
    corrected = movie.copy()
    corrected[["row", "col"]] -= drift[corrected["frame"].to_numpy()]
    theirs = trackpy.link(corrected, 2.0, pos_columns=["row", "col"], t_column="frame")
    assert _links(linked, "atom") == _links(theirs, "particle")
    # Where links compete (crowded walkers, some missing), both find the same
    # optimum, memory included.
    for memory, drop in [(0, 0.0), (1, 0.05), (2, 0.1)]:
        walks = _walks(drop=drop)
        mine = link_atoms(walks, search_range=3.0, memory=memory, drift=None)
        theirs = trackpy.link(walks, 3.0, pos_columns=["row", "col"], memory=memory)
        assert _tracks(mine, "atom") == _tracks(theirs, "particle")


def test_link_atoms_large_groups_use_the_sparse_solver(monkeypatch):
    # search_range above the walkers' spacing: groups of hundreds of atoms
    walks = _walks(n=200, n_frames=4, step=1.5)
    dense = link_atoms(walks, search_range=8.0, drift=None)
    monkeypatch.setattr(_link, "_DENSE_LIMIT", 4)
    sparse = link_atoms(walks, search_range=8.0, drift=None)
    np.testing.assert_array_equal(sparse["atom"], dense["atom"])


def test_link_atoms_removes_drift_larger_than_search_range():
    # 3 px per frame, under half the 7.1 px C-C spacing but over search_range
    _, truth = make_stem_movie(n_frames=6, size=128, dopants={"Si": 2}, n_vacancies=0,
                               drift=(2.4, -1.8), drift_jitter=0.1, random_state=1)
    auto = link_atoms(truth, search_range=2.0)
    recall, precision = _scores(auto, truth)
    assert recall >= 0.99 and precision >= 0.99
    np.testing.assert_allclose(np.diff(np.asarray(auto.attrs["drift"]), axis=0),
                               _true_steps(truth), atol=0.05)
    plain = link_atoms(truth, search_range=2.0, drift=None)
    assert _scores(plain, truth)[0] < 0.05
    assert np.all(np.asarray(plain.attrs["drift"]) == 0)


def test_link_atoms_known_drift_beyond_half_spacing():
    # 5 px per frame: a shifted lattice aliases, so "auto" cannot know; the
    # known drift links it.
    _, truth = make_stem_movie(n_frames=4, size=128, dopants={"Si": 2}, n_vacancies=0,
                               drift=(4.0, 3.0), drift_jitter=0.1, hop_frames=(1,),
                               random_state=2)
    known = np.vstack([[0.0, 0.0], np.cumsum(_true_steps(truth), axis=0)])
    linked = link_atoms(truth, search_range=2.0, drift=known)
    recall, precision = _scores(linked, truth)
    assert recall >= 0.99 and precision >= 0.99
    np.testing.assert_allclose(np.asarray(linked.attrs["drift"]), known)
    assert _scores(link_atoms(truth, search_range=2.0), truth)[0] < 0.5


def test_link_atoms_memory(movie):
    # a site seen in every frame, far from the edges
    counts = movie.groupby("atom_id")["frame"].nunique()
    centre = movie[movie["atom_id"].isin(counts.index[counts == 10])]
    site = centre.loc[((centre["row"] - 64) ** 2 + (centre["col"] - 64) ** 2).idxmin(), "atom_id"]
    for missing in ([4], [4, 5]):
        gone = movie[~((movie["atom_id"] == site) & movie["frame"].isin(missing))]
        ends = gone["frame"].isin([missing[0] - 1, missing[-1] + 1]) & (gone["atom_id"] == site)
        for memory in (0, 1, 2):
            linked = link_atoms(gone, search_range=2.0, memory=memory)
            relinked = linked.loc[ends, "atom"].nunique() == 1
            assert relinked == (memory >= len(missing)), (missing, memory)
            true, found = _links(gone, "atom_id"), _links(linked, "atom")
            assert len(true & found) / len(true) >= 0.99 and len(true & found) / len(found) >= 0.99


def test_link_atoms_one_frame_and_empty():
    one = pd.DataFrame({"frame": [3, 3], "row": [1.0, 5.0], "col": [2.0, 2.0], "x": ["a", "b"]})
    linked = link_atoms(one, search_range=1.0)
    assert linked["atom"].tolist() == [0, 1] and linked["x"].tolist() == ["a", "b"]
    assert linked.attrs["drift"] == ((0.0, 0.0),)
    empty = link_atoms(one.iloc[:0], search_range=1.0)
    assert len(empty) == 0 and empty["atom"].dtype == np.int64 and empty.attrs["drift"] == ()


def test_class_changes_finds_the_dopant_hop(movie):
    linked = link_atoms(movie, search_range=2.0)
    changes = class_changes(linked, column="element")
    assert list(changes.columns) == ["atom", "frame", "before", "after", "row", "col"]
    assert changes["frame"].tolist() == [5, 5]
    assert set(zip(changes["before"], changes["after"])) == {("Si", "C"), ("C", "Si")}
    # the two sites that swap elements at the hop, at their frame-5 positions
    wide = movie.pivot(index="atom_id", columns="frame", values="element")[[4, 5]].dropna()
    swapped = set(wide.index[wide[4] != wide[5]])
    assert len(swapped) == 2
    at_hop = linked[linked["frame"] == 5].set_index("atom")
    assert set(at_hop.loc[changes["atom"], "atom_id"]) == swapped
    np.testing.assert_array_equal(changes["row"], at_hop.loc[changes["atom"], "row"])
    assert changes["atom"].is_monotonic_increasing
    # the environments of the neighbours change then too, and never otherwise
    env = class_changes(linked, column="environment")
    assert len(env) > 2 and set(env["frame"]) == {5}
    assert env["before"].dtype == movie["environment"].dtype
    assert len(class_changes(linked, column="atom_id")) == 0


def test_class_changes_across_gaps_and_missing_values():
    linked = pd.DataFrame({"atom": [0, 0, 0, 1, 1], "frame": [0, 2, 3, 0, 1],
                           "row": [1.0, 1.1, 1.2, 5.0, 5.0], "col": [0.0] * 5,
                           "class": [0, 1, 1, np.nan, np.nan]})
    changes = class_changes(linked)
    assert changes[["atom", "frame", "before", "after"]].values.tolist() == [[0, 2, 0, 1]]
    assert changes["row"].tolist() == [1.1]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"atoms": np.zeros((3, 3))}, TypeError, "DataFrame"),
        ({"atoms": pd.DataFrame({"frame": [0], "row": [1.0]})}, ValueError, "col"),
        ({"atoms": pd.DataFrame({"frame": [0, 1], "row": [1.0, np.nan], "col": [1.0, 1.0]})},
         ValueError, "NaN"),
        ({"atoms": pd.DataFrame({"frame": [0, 1], "row": [1.0, np.inf], "col": [1.0, 1.0]})},
         ValueError, "row"),
        ({"atoms": pd.DataFrame({"frame": [0, 1], "row": ["a", "b"], "col": [1.0, 1.0]})},
         TypeError, "row"),
        ({"atoms": pd.DataFrame({"frame": [0, 0.5], "row": [1.0, 1.0], "col": [1.0, 1.0]})},
         ValueError, "whole numbers"),
        ({"search_range": 0}, ValueError, "search_range must be a finite number of pixels > 0, got 0"),
        ({"search_range": -1.0}, ValueError, "search_range"),
        ({"search_range": np.nan}, ValueError, "search_range"),
        ({"search_range": "2"}, TypeError, "search_range"),
        ({"memory": -1}, ValueError, r"memory must be an int >= 0 \(frames\), got -1"),
        ({"memory": 1.5}, TypeError, "memory"),
        ({"memory": True}, TypeError, "memory"),
        ({"drift": np.zeros((3, 2))}, ValueError, r"\(2, 2\).*\(3, 2\)"),
        ({"drift": np.zeros(4)}, ValueError, "drift"),
        ({"drift": [[0, 0], [np.nan, 0]]}, ValueError, "drift"),
        ({"drift": "median"}, ValueError, "drift='median'"),
        ({"drift": object()}, TypeError, "drift"),
    ],
)
def test_link_atoms_validates(kwargs, error, match):
    args = {"atoms": pd.DataFrame({"frame": [0, 1], "row": [1.0, 1.2], "col": [1.0, 1.0]}),
            "search_range": 1.0, **kwargs}
    atoms = args.pop("atoms")
    with pytest.raises(error, match=match):
        link_atoms(atoms, **args)


def test_class_changes_validates():
    linked = pd.DataFrame({"atom": [0, 0], "frame": [0, 0], "row": [1.0, 1.0], "col": [1.0, 1.0],
                           "class": [0, 1]})
    with pytest.raises(ValueError, match="twice in frame 0"):
        class_changes(linked)
    with pytest.raises(ValueError, match="'label'"):
        class_changes(linked, column="label")
    with pytest.raises(TypeError, match="DataFrame"):
        class_changes(linked.to_numpy())


def test_class_changes_min_frames_drops_flicker():
    # Atom 0 flickers for one frame; atom 1 changes for good at frame 3.
    linked = pd.DataFrame({
        "atom": [0] * 6 + [1] * 6,
        "frame": list(range(6)) * 2,
        "row": 1.0, "col": 1.0,
        "class": [0, 0, 1, 0, 0, 0] + [0, 0, 0, 1, 1, 1],
    })
    assert len(class_changes(linked)) == 3
    kept = class_changes(linked, min_frames=2)
    assert kept[["atom", "frame"]].values.tolist() == [[1, 3]]
    with pytest.raises(ValueError, match=r"min_frames must be an int >= 1 \(rows of a track\), got 0"):
        class_changes(linked, min_frames=0)
