"""Symmetries of perovskite projections that the tilt models and the simulators share."""

# The exact mirrors of a [110] projection about a B column: the flipped pixel axes of a (.., h, w) patch and
# the signed permutation each applies to the column's tilts (alpha, beta, gamma). Each is its own inverse;
# together they are a group (TiltRegressor(zone_axis="110") averages over it).
MIRRORS_110 = (
    ((), ((1, 0, 0), (0, 1, 0), (0, 0, 1))),
    ((-1,), ((0, -1, 0), (-1, 0, 0), (0, 0, -1))),  # x -> -x: (-beta, -alpha, -gamma)
    ((-2,), ((-1, 0, 0), (0, -1, 0), (0, 0, 1))),  # y -> -y: (-alpha, -beta, gamma)
    ((-2, -1), ((0, 1, 0), (1, 0, 0), (0, 0, -1))),  # both, a 180-degree rotation: (beta, alpha, -gamma)
)
