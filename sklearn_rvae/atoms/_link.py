"""Link atoms across the frames of a movie into tracks, and list what changes along them.

Positions are (row, col) in pixels, row 0 at the top, as :func:`find_atoms`
returns them. Linking goes frame to frame: every atom is linked to at most
one atom of the next frame and the reverse, by the links that minimise the
summed squared displacement plus ``search_range ** 2`` for every atom left
without a successor. That is the objective of trackpy's Crocker-Grier linker
(``trackpy.link``), here solved exactly for the whole frame and without a
limit on the size of a group of competing atoms.
"""

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching
from scipy.spatial import cKDTree

from .._utils import check_all_finite, check_int, check_scalar

__all__ = ["class_changes", "link_atoms"]

# A group of atoms that are candidates for one another is solved by a dense
# linear_sum_assignment up to this many (source x destination) entries, 8 MB;
# a larger group (search_range near the spacing of the atoms, where all of a
# lattice may hang together) by a sparse solver instead.
_DENSE_LIMIT = 1_000_000
_DRIFT_STEPS = 20
_DRIFT_TOL = 1e-3  # pixels


def _check_table(atoms, columns, name="atoms"):
    if not isinstance(atoms, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame with columns {list(columns)}; "
            f"got {type(atoms).__name__}."
        )
    missing = [c for c in columns if c not in atoms.columns]
    if missing:
        raise ValueError(
            f"{name} lacks the column(s) {missing}: it needs {list(columns)}; "
            f"its columns are {list(atoms.columns)}."
        )


def _numbers(atoms, column, name="atoms"):
    """``atoms[column]`` as finite float64, or a TypeError/ValueError naming the column."""
    values = atoms[column]
    kind = values.dtype
    if (not pd.api.types.is_numeric_dtype(kind) or pd.api.types.is_bool_dtype(kind)
            or pd.api.types.is_complex_dtype(kind)):
        raise TypeError(f"{name}[{column!r}] must hold real numbers; got dtype {kind}.")
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name}[{column!r}] has {int(bad.sum())} NaN or infinite value(s) (the first at "
            f"index {atoms.index[np.argmax(bad)]!r}); drop or fix those rows first."
        )
    return arr


def _whole_numbers(atoms, column, name="atoms"):
    arr = _numbers(atoms, column, name)
    bad = arr != np.round(arr)
    if bad.any():
        raise ValueError(
            f"{name}[{column!r}] must hold whole numbers; got {arr[np.argmax(bad)]!r} at "
            f"index {atoms.index[np.argmax(bad)]!r}."
        )
    return arr.astype(np.int64)


def _check_drift(drift, n_frames):
    """Known cumulative shifts (n_frames, 2), or None for 'auto'."""
    if drift is None:
        return np.zeros((n_frames, 2))
    if isinstance(drift, str):
        if drift == "auto":
            return None
        raise ValueError(
            f"drift={drift!r}: expected 'auto', None or an array ({n_frames}, 2) of "
            "cumulative (row, col) shifts, one per frame."
        )
    try:
        arr = np.asarray(drift, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"drift must be 'auto', None or an array of numbers of shape ({n_frames}, 2); "
            f"got {type(drift).__name__}."
        ) from exc
    if arr.shape != (n_frames, 2):
        raise ValueError(
            f"drift must have shape (n_frames, 2) = ({n_frames}, 2): one cumulative (row, col) "
            f"shift for each of the {n_frames} frames in atoms; got shape {arr.shape}."
        )
    check_all_finite(arr, "drift")
    return arr


def _frame_shift(a, b):
    """Rigid shift from positions ``a`` to ``b``: median displacement of mutual nearest neighbours.

    Starts from no shift and iterates, so it finds the shift when it is under
    half the spacing of the atoms; a lattice shifted by one spacing looks the
    same. Mutual pairs leave out most atoms that entered or left the field;
    the median, the rest and the atoms that jumped.
    """
    if len(a) == 0 or len(b) == 0:
        return np.zeros(2)  # no information: assume no motion
    tree_a, tree_b = cKDTree(a), cKDTree(b)
    shift = np.zeros(2)
    own = np.arange(len(a))
    for _ in range(_DRIFT_STEPS):
        _, to_b = tree_b.query(a + shift)
        _, to_a = tree_a.query(b - shift)
        mutual = to_a[to_b] == own  # never empty: the closest pair is mutual
        new = np.median(b[to_b[mutual]] - a[mutual], axis=0)
        done = np.hypot(*(new - shift)) < _DRIFT_TOL
        shift = new
        if done:
            break
    return shift


def _estimate_drift(pos, level, n_frames):
    frames = [pos[level == k] for k in range(n_frames)]
    steps = [np.zeros(2)] + [_frame_shift(frames[k - 1], frames[k]) for k in range(1, n_frames)]
    return np.cumsum(steps, axis=0) if n_frames else np.zeros((0, 2))


def _assign(src, dst, search_range):
    """Optimal links (source index, destination index) between two sets of positions."""
    empty = np.empty(0, dtype=np.int64)
    if len(src) == 0 or len(dst) == 0:
        return empty, empty
    pairs = cKDTree(src).sparse_distance_matrix(cKDTree(dst), search_range, output_type="ndarray")
    if len(pairs) == 0:
        return empty, empty
    i, j = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    # Linking costs d**2 and leaving a source unlinked search_range**2, so a
    # link saves search_range**2 - d**2 >= 0: minimise the negative savings.
    cost = pairs["v"] ** 2 - search_range**2
    n_src = len(src)
    graph = sparse.coo_matrix(
        (np.ones(len(i)), (i, n_src + j)), shape=(n_src + len(dst),) * 2
    )
    _, group = connected_components(graph, directed=False)
    group = group[i]
    order = np.argsort(group, kind="stable")
    i, j, cost, group = i[order], j[order], cost[order], group[order]
    bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
    size = np.diff(bounds)
    # Most groups are one source and one destination: that link is the answer.
    single = bounds[:-1][size == 1]
    out_i, out_j = [i[single]], [j[single]]
    for start, stop in zip(bounds[:-1][size > 1], bounds[1:][size > 1]):
        gi, li = np.unique(i[start:stop], return_inverse=True)
        gj, lj = np.unique(j[start:stop], return_inverse=True)
        if len(gi) * len(gj) <= _DENSE_LIMIT:
            dense = np.zeros((len(gi), len(gj)))  # 0: not linked
            dense[li, lj] = cost[start:stop]
            edge = np.zeros(dense.shape, dtype=bool)
            edge[li, lj] = True
            r, c = linear_sum_assignment(dense)
            keep = edge[r, c]
            r, c = r[keep], c[keep]
        else:
            r, c = _assign_sparse(li, lj, cost[start:stop], len(gi), len(gj), search_range)
        out_i.append(gi[r])
        out_j.append(gj[c])
    return np.concatenate(out_i), np.concatenate(out_j)


def _assign_sparse(li, lj, cost, n_src, n_dst, search_range):
    """The optimal links of one large group, by a sparse min-weight full matching.

    Every source gets a private dummy destination at the cost of staying
    unlinked, so a full matching always exists; every cost is raised by the
    same constant so that no edge has weight 0 (every source is matched once,
    so the optimum does not move).
    """
    offset = search_range**2 + 1.0
    rows = np.r_[li, np.arange(n_src)]
    cols = np.r_[lj, n_dst + np.arange(n_src)]
    weights = np.r_[cost + offset, np.full(n_src, offset)]
    biadjacency = sparse.csr_matrix((weights, (rows, cols)), shape=(n_src, n_dst + n_src))
    r, c = min_weight_full_bipartite_matching(biadjacency)
    keep = c < n_dst
    return r[keep], c[keep]


def _link(pos, level, n_frames, search_range, memory):
    """Track id of every row: frame by frame, optimal links to the tracks still alive."""
    n = len(pos)
    order = np.argsort(level, kind="stable")  # by frame, then as given
    starts = np.searchsorted(level[order], np.arange(n_frames + 1))
    track = np.empty(n, dtype=np.int64)
    last_pos = np.empty((n, 2))
    last_frame = np.empty(n, dtype=np.int64)
    n_tracks = 0
    for k in range(n_frames):
        rows = order[starts[k]:starts[k + 1]]
        ids = np.full(len(rows), -1, dtype=np.int64)
        # Sources: tracks seen in the last frame or, with memory, missing
        # for no more than ``memory`` frames; each at its last position.
        alive = np.flatnonzero(last_frame[:n_tracks] >= k - 1 - memory)
        src, dst = _assign(last_pos[alive], pos[rows], search_range)
        ids[dst] = alive[src]
        new = ids < 0
        ids[new] = n_tracks + np.arange(int(new.sum()))
        n_tracks += int(new.sum())
        track[rows] = ids
        last_pos[ids] = pos[rows]
        last_frame[ids] = k
    return track


def link_atoms(atoms, *, search_range, memory=0, drift="auto"):
    """Link atoms across the frames of a movie into tracks.

    Each frame is linked to the next: the candidates of an atom are the
    atoms of the next frame within ``search_range`` pixels (after the drift
    is removed), and among all one-to-one links between candidates the
    links that minimise the summed squared displacement plus
    ``search_range ** 2`` for each atom left without a successor are taken
    (``scipy.optimize.linear_sum_assignment`` on each group of competing
    atoms). This is the objective of ``trackpy.link``, solved exactly for
    every group however large; atoms farther apart than ``search_range``
    are never linked. An atom with no link starts a new track. With
    ``memory > 0`` an atom missing from up to ``memory`` frames is linked
    again from its last position, as in trackpy.

    Drift. A drifting field of view moves every atom alike, often by more
    than the atoms move relative to the sample. With ``drift="auto"`` the
    rigid shift between consecutive frames is estimated from the positions
    themselves (median displacement of mutual nearest neighbours, iterated
    from no shift; robust to atoms entering and leaving the field of view
    and to a few that jump) and removed before linking, so
    ``search_range`` need only cover the motion of the atoms relative to
    the sample. A lattice is periodic: a shift by one column spacing looks
    like no shift, so the estimate is right only while the drift between
    two frames is under half the closest column spacing (3.5 px for
    graphene at 0.2 A/px); for faster drift pass the shifts as an array
    (from cross-correlation of the images, or the stage).

    Parameters
    ----------
    atoms : pandas.DataFrame
        One row per atom per frame, with columns ``frame`` (whole numbers),
        ``row`` and ``col`` (pixels, finite). Other columns are carried
        through. Frames are taken in increasing order of ``frame``;
        ``n_frames`` below is the number of distinct values, and a frame
        number with no rows is no frame.
    search_range : float
        Largest distance, pixels, between an atom and its link in the next
        frame after the drift is removed. Keep it under half the closest
        spacing of the atoms: it has to cover the atoms' own motion and the
        error of the positions, not the drift.
    memory : int, default=0
        Number of consecutive frames an atom may be missing (not found)
        and still be linked when it comes back within ``search_range`` of
        its last position.
    drift : "auto", None or array-like of shape (n_frames, 2), default="auto"
        ``"auto"``: estimate it as above. ``None``: no correction. An
        array: the known cumulative (row, col) shift of each frame, in
        increasing order of ``frame``, so that ``position - drift[k]`` puts
        frame ``k`` in the coordinates of the first frame (only differences
        between frames matter).

    Returns
    -------
    linked : pandas.DataFrame
        A copy of ``atoms``, same rows in the same order with the same
        index, with an int64 column ``atom``: the track, numbered 0 ..
        n_tracks - 1 in order of first appearance (by frame, then by row
        order within the frame); an ``atom`` column already there is
        replaced. ``linked.attrs["drift"]`` holds the drift that was
        removed (estimated, given, or zeros): a tuple with one ``(row,
        col)`` tuple of floats per frame, in increasing order of ``frame``,
        the first ``(0.0, 0.0)`` when estimated; ``np.asarray`` of it is
        the (n_frames, 2) array. (A tuple, not an array, because pandas
        compares ``attrs`` with ``==`` when it concatenates or merges
        tables.)

    See Also
    --------
    class_changes : where the class of a linked atom changes.
    find_atoms : the positions in one frame.

    Examples
    --------
    Two atoms drift by (1.15, 2.05) px, more than ``search_range``:

    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn_rvae.atoms import link_atoms
    >>> atoms = pd.DataFrame({"frame": [0, 0, 1, 1], "row": [10.0, 30.0, 31.2, 11.1],
    ...                       "col": [10.0, 10.0, 12.0, 12.1]})
    >>> linked = link_atoms(atoms, search_range=1.0)
    >>> linked["atom"].tolist()
    [0, 1, 1, 0]
    >>> np.asarray(linked.attrs["drift"]).round(2).tolist()
    [[0.0, 0.0], [1.15, 2.05]]
    >>> link_atoms(atoms, search_range=1.0, drift=None)["atom"].tolist()
    [0, 1, 2, 3]
    """
    _check_table(atoms, ["frame", "row", "col"])
    frame = _whole_numbers(atoms, "frame")
    pos = np.column_stack([_numbers(atoms, "row"), _numbers(atoms, "col")])
    search_range = check_scalar(search_range, "search_range", positive=True, expected="a finite number of pixels > 0")
    memory = check_int(memory, "memory", minimum=0, expected="an int >= 0 (frames)")
    _, level = np.unique(frame, return_inverse=True)
    level = level.reshape(-1)
    n_frames = int(level.max()) + 1 if len(level) else 0
    shifts = _check_drift(drift, n_frames)
    if shifts is None:
        shifts = _estimate_drift(pos, level, n_frames)
    track = _link(pos - shifts[level], level, n_frames, search_range, memory)
    linked = atoms.copy()
    linked["atom"] = track
    linked.attrs["drift"] = tuple((float(r), float(c)) for r, c in shifts)
    return linked


def class_changes(atoms, column="class", *, min_frames=1):
    """Every change of ``column`` along the tracks of linked atoms.

    The rows of each atom are taken in order of frame, and a change is
    reported where the value differs from the one of the atom's previous
    row (missing values equal one another). A track with a gap (linked with
    ``memory``) compares across the gap. With ``min_frames > 1`` a change
    is reported only where the old value held for at least ``min_frames``
    of the atom's rows and the new one holds for as many: a classifier's
    flicker (a class that comes back a frame later) is not a hop.

    Parameters
    ----------
    atoms : pandas.DataFrame
        Linked atoms (:func:`link_atoms`), with columns ``atom``, ``frame``,
        ``row``, ``col`` and ``column``; each atom at most once per frame.
    column : str, default="class"
        The column to follow: a classification of each atom (a cluster
        label, ``element``, ``environment``).
    min_frames : int, default=1
        Rows of the track the values on both sides of a change must last.
        A change fewer than ``min_frames`` frames from either end of its
        track is then not reported, nor one where the classifier flickers
        at the transition itself (A A B A B B): compare with
        ``min_frames=1`` before concluding that nothing changed.

    Returns
    -------
    changes : pandas.DataFrame
        One row per change, sorted by ``frame``, then ``atom``, index
        0 .. n - 1: ``atom``, ``frame`` (the first frame with the new
        value), ``before``, ``after`` (the values, of ``column``'s dtype),
        ``row`` and ``col`` (the position in that frame).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_rvae.atoms import class_changes
    >>> linked = pd.DataFrame({"atom": [0, 1, 0, 1, 0, 1], "frame": [0, 0, 1, 1, 2, 2],
    ...                        "row": [5.0, 9.0, 5.1, 9.0, 5.2, 9.1],
    ...                        "col": [3.0, 3.0, 3.1, 3.0, 3.0, 3.1],
    ...                        "element": ["C", "Si", "C", "Si", "Si", "C"]})
    >>> class_changes(linked, column="element")
       atom  frame before after  row  col
    0     0      2      C    Si  5.2  3.0
    1     1      2     Si     C  9.1  3.1
    """
    needed = list(dict.fromkeys(["atom", "frame", "row", "col", column]))
    _check_table(atoms, needed)
    min_frames = check_int(min_frames, "min_frames", minimum=1, expected="an int >= 1 (rows of a track)")
    atom = _whole_numbers(atoms, "atom")
    frame = _whole_numbers(atoms, "frame")
    order = np.lexsort((frame, atom))
    a, f = atom[order], frame[order]
    same_atom = a[1:] == a[:-1]
    twice = same_atom & (f[1:] == f[:-1])
    if twice.any():
        k = int(np.argmax(twice))
        raise ValueError(
            f"atoms has atom {a[k]} twice in frame {f[k]}: link the atoms first "
            "(link_atoms), so that each atom is in a frame at most once."
        )
    values = atoms[column].iloc[order].reset_index(drop=True)
    prev = values.iloc[:-1].reset_index(drop=True)
    cur = values.iloc[1:].reset_index(drop=True)
    equal = ((cur == prev) | (cur.isna() & prev.isna())).to_numpy(dtype=bool)
    at = np.flatnonzero(same_atom & ~equal) + 1  # positions in ``order``
    if min_frames > 1 and len(at):
        # Runs of one value along one track; a change starts a run.
        run = np.concatenate([[0], np.cumsum(~(same_atom & equal))])
        length = np.bincount(run)
        at = at[(length[run[at]] >= min_frames) & (length[run[at - 1]] >= min_frames)]
    rows, before_rows = order[at], order[at - 1]
    changes = pd.DataFrame(
        {
            "atom": atoms["atom"].iloc[rows].to_numpy(),
            "frame": atoms["frame"].iloc[rows].to_numpy(),
            "before": atoms[column].iloc[before_rows].reset_index(drop=True),
            "after": atoms[column].iloc[rows].reset_index(drop=True),
            "row": atoms["row"].iloc[rows].to_numpy(),
            "col": atoms["col"].iloc[rows].to_numpy(),
        }
    )
    return changes.sort_values(["frame", "atom"], kind="stable").reset_index(drop=True)
