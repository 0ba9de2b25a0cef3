"""Data sets: rotated digits and shapes, atom-resolved STEM images and movies, and (with the ``sim`` extra: abtem, ase) simulated 4D-STEM."""

from ._abf import postprocess_abf, simulate_abf
from ._digits import make_rotated_digits
from ._perovskite import (
    ABF_FIXTURE_SETTINGS,
    load_abf_fixture,
    make_perovskite_abf,
    make_synthetic_tilt_patches,
    mirror_patches_110,
)
from ._perovskite_crystal import (
    PEROVSKITES,
    b_cation_columns,
    mirror_mid_plane,
    orient_110,
    perovskite_supercell,
)
from ._shapes import SHAPE_NAMES, make_rotated_shapes
from ._stem4d import (
    graphene_supercell,
    make_graphene_4dstem,
    make_graphene_orbits,
    make_zincblende_4dstem,
    make_zincblende_pairs,
    zincblende_110,
)
from ._stem_image import environment_names, make_stem_image, make_stem_movie

__all__ = [
    "ABF_FIXTURE_SETTINGS",
    "PEROVSKITES",
    "b_cation_columns",
    "perovskite_supercell",
    "graphene_supercell",
    "load_abf_fixture",
    "make_perovskite_abf",
    "orient_110",
    "postprocess_abf",
    "simulate_abf",
    "make_synthetic_tilt_patches",
    "mirror_mid_plane",
    "mirror_patches_110",
    "make_graphene_4dstem",
    "make_graphene_orbits",
    "make_rotated_digits",
    "make_rotated_shapes",
    "make_stem_image",
    "make_stem_movie",
    "environment_names",
    "SHAPE_NAMES",
    "make_zincblende_4dstem",
    "make_zincblende_pairs",
    "zincblende_110",
]
