"""Perovskite builder: ideal cube at zero tilt, shared oxygens, bond lengths, Glazer signs."""

import numpy as np
import pytest

pytest.importorskip("ase")
from sklearn_rvae.datasets import perovskite_supercell  # noqa: E402
from sklearn_rvae.datasets._perovskite import octahedral_signs  # noqa: E402


def test_zero_tilt_is_the_ideal_cubic_perovskite():
    atoms = perovskite_supercell("SrTiO3", (0, 0, 0), "a0a0a0", repeats=(2, 2, 2))
    a = 3.905
    assert len(atoms) == 8 * 5 and atoms.get_chemical_formula() == "O24Sr8Ti8"
    frac = np.round(atoms.get_scaled_positions() * 2, 9) % 1  # in cubic-cell units
    expected = {0: [0, 0, 0], 1: [0.5, 0.5, 0.5]}
    for tag, offset in expected.items():
        np.testing.assert_allclose(frac[atoms.get_tags() == tag], np.broadcast_to(offset, (8, 3)), atol=1e-9)
    o = frac[atoms.get_tags() == 2]
    # Each O sits at a face centre: two coordinates 0.5, one 0.
    assert np.all(np.sort(o, 1) == np.array([0, 0.5, 0.5]))
    d = atoms.get_all_distances(mic=True)
    ti = np.flatnonzero(atoms.get_tags() == 1)
    ox = np.flatnonzero(atoms.get_tags() == 2)
    np.testing.assert_allclose(np.sort(d[np.ix_(ti, ox)], 1)[:, :6], a / 2, atol=1e-12)


@pytest.mark.parametrize("glazer", ["a-b-c-", "a+b+c+", "a0a0c-", "a-a-c+"])
@pytest.mark.parametrize("tilts", [(3.0, 2.0, 1.0), (10.0, 7.0, 4.0), (10.0, 10.0, 10.0)])
def test_every_oxygen_shared_by_two_b_with_bonds_preserved(glazer, tilts):
    atoms = perovskite_supercell("SrTiO3", tilts, glazer, repeats=(2, 2, 2))
    d = atoms.get_all_distances(mic=True)
    b = np.flatnonzero(atoms.get_tags() == 1)
    ox = np.flatnonzero(atoms.get_tags() == 2)
    bo = d[np.ix_(ox, b)]
    neighbours = np.sort(bo, 1)
    # Exactly two B within a bond length of each O; the next is far.
    assert np.all(neighbours[:, 1] < 3.905 / 2 * 1.01) and np.all(neighbours[:, 2] > 3.0)
    np.testing.assert_allclose(neighbours[:, :2], 3.905 / 2, rtol=0.01)
    # ...and each B has six O.
    assert np.all(np.sum(d[np.ix_(b, ox)] < 3.905 / 2 * 1.01, axis=1) == 6)


def test_glazer_signs_alternate_as_specified():
    index = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    minus = octahedral_signs(index, "a-b-c-")
    # Anti-phase: every neighbour flips every rotation.
    assert np.all(minus[1:] == -minus[0])
    plus = octahedral_signs(index, "a0a0c+")
    # In-phase about c: neighbours along c keep the sign, neighbours in the plane flip it.
    assert plus[3, 2] == plus[0, 2] and plus[1, 2] == -plus[0, 2] and plus[2, 2] == -plus[0, 2]
    assert np.all(plus[:, :2] == 0)


def test_bad_parameters():
    with pytest.raises(ValueError, match="glazer"):
        perovskite_supercell(glazer="a*b-c-")
    with pytest.raises(ValueError, match="even"):
        perovskite_supercell(tilts=(5, 0, 0), glazer="a-b0c0", repeats=(3, 2, 2))
    with pytest.raises(ValueError, match="tilts"):
        perovskite_supercell(tilts=(45, 0, 0))
    with pytest.raises(ValueError, match="material"):
        perovskite_supercell("NaCl")
