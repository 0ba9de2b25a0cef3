"""sklearn_rvae.plotting: each function draws into a given Axes or its own and returns it; what it draws is checked."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import rgb_to_hsv  # noqa: E402

from sklearn_rvae import RotationInvariantVAE, plotting  # noqa: E402

RNG = np.random.default_rng(0)
X_SMALL = RNG.random((24, 64))  # 8 x 8 images


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def rvae():
    return RotationInvariantVAE(3, max_epochs=1, hidden_layer_sizes=(16,), device="cpu", random_state=0).fit(X_SMALL)


def _image_rgba(ax):
    image = ax.images[0]
    return image.cmap(image.norm(image.get_array()))


def _calls(rvae):
    """One cheap call of every function, ax left to the caller."""
    field = RNG.normal(size=(5, 6, 2))
    table = pd.DataFrame({"frame": [0, 1, 2, 0, 1, 2], "atom": [0, 0, 0, 1, 1, 1], "z1": np.arange(6.0),
                          "z2": np.arange(6.0) ** 2})
    return {
        "manifold": lambda ax: plotting.plot_manifold(rvae, n_per_side=3, ax=ax),
        "latent_map": lambda ax: plotting.plot_latent_map(np.arange(6.0), scan_shape=(2, 3), ax=ax),
        "angle_map": lambda ax: plotting.plot_angle_map(np.arange(6.0) * 60, scan_shape=(2, 3), ax=ax),
        "vector_field": lambda ax: plotting.plot_vector_field(field, ax=ax),
        "tilt_map": lambda ax: plotting.plot_tilt_map(np.zeros((10, 10)), [[2, 2], [7, 7]], [[1, 1, 2], [-1, -1, -2]],
                                                      ax=ax),
        "trajectories": lambda ax: plotting.plot_trajectories(table, codes=("z1", "z2"), ax=ax),
    }


NAMES = ["manifold", "latent_map", "angle_map", "vector_field", "tilt_map", "trajectories"]


# ------------------------------------------------------------------ every function
@pytest.mark.parametrize("name", NAMES)
def test_draws_into_the_given_axes_or_its_own(rvae, name):
    call = _calls(rvae)[name]
    fig, ax = plt.subplots()
    assert call(ax) is ax
    assert ax.has_data() or ax.images
    own = call(None)
    assert isinstance(own, matplotlib.axes.Axes) and own is not ax and own.figure is not fig


@pytest.mark.parametrize("name", NAMES)
def test_refuses_what_is_not_an_axes(rvae, name):
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        _calls(rvae)[name](plt.figure())


@pytest.mark.parametrize("name", NAMES)
def test_missing_matplotlib_names_the_plot_extra(rvae, name, monkeypatch):
    calls = _calls(rvae)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # "import matplotlib.pyplot" now fails
    with pytest.raises(ImportError, match=r"needs matplotlib: pip install 'sklearn_rvae\[plot\]'"):
        calls[name](None)


def test_importing_plotting_does_not_import_matplotlib():
    code = "import sys, sklearn_rvae.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ manifold
def test_manifold_tiles_the_decoded_images_at_the_grid_values(rvae):
    n, extent = 4, ((-1.0, 2.0), (-3.0, 0.5))
    ax = plotting.plot_manifold(rvae, n_per_side=n, extent=extent, components=(2, 0), angle=30.0)
    tiles = np.asarray(ax.images[-1].get_array())
    h, w = rvae.image_shape_
    assert tiles.shape == (n * h, n * w)
    along_x, along_y = np.linspace(*extent[0], n), np.linspace(*extent[1], n)
    for i in range(n):  # rows from the top: the largest z1 first
        for j in range(n):
            z = np.zeros((1, 3))
            z[0, 2], z[0, 0] = along_x[j], along_y[n - 1 - i]
            expected = rvae.inverse_transform(z, angle=30.0).reshape(h, w)
            np.testing.assert_allclose(tiles[i * h : (i + 1) * h, j * w : (j + 1) * w], expected, rtol=1e-6,
                                       atol=1e-9)
    # The axes carry the latent values: tile centres sit at the grid values.
    left, right, bottom, top = ax.images[-1].get_extent()
    step_x, step_y = np.diff(along_x)[0], np.diff(along_y)[0]
    np.testing.assert_allclose([left, right, bottom, top], [-1 - step_x / 2, 2 + step_x / 2, -3 - step_y / 2,
                                                            0.5 + step_y / 2])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z3", "z1")


def test_manifold_extent_comes_from_the_codes_or_the_prior(rvae):
    codes = rvae.transform(X_SMALL)
    ax = plotting.plot_manifold(rvae, n_per_side=3, X=X_SMALL)
    left, right, bottom, top = ax.images[-1].get_extent()
    lo, hi = codes.mean(0) - 2 * codes.std(0), codes.mean(0) + 2 * codes.std(0)
    np.testing.assert_allclose([(left + right) / 2, right - left], [(lo[0] + hi[0]) / 2, 1.5 * (hi[0] - lo[0])])
    np.testing.assert_allclose([(bottom + top) / 2, top - bottom], [(lo[1] + hi[1]) / 2, 1.5 * (hi[1] - lo[1])])
    left, right, bottom, top = plotting.plot_manifold(rvae, n_per_side=3).images[-1].get_extent()
    np.testing.assert_allclose([left, right, bottom, top], [-3, 3, -3, 3])  # N(0, 1) prior: -2 .. 2, half a step more


def test_manifold_extent_from_the_class_mixture():
    # The mixture is fitted to the training codes (EM), so its spread is theirs.
    model = RotationInvariantVAE(2, n_classes=2, max_epochs=1, hidden_layer_sizes=(16,), device="cpu",
                                 random_state=0).fit(X_SMALL)
    codes = model.transform(X_SMALL)
    left, right, bottom, top = plotting.plot_manifold(model, n_per_side=3).images[-1].get_extent()
    np.testing.assert_allclose([(left + right) / 2, (bottom + top) / 2], codes.mean(0), atol=1e-3)
    np.testing.assert_allclose([right - left, top - bottom], 1.5 * 4 * codes.std(0), rtol=1e-2)


def test_manifold_of_a_pipeline_and_of_one_component(rvae):
    pipe = make_pipeline(FunctionTransformer(), rvae)
    ax = plotting.plot_manifold(pipe, n_per_side=3, X=X_SMALL)
    assert ax.images[-1].get_array().shape == (24, 24)
    ax = plotting.plot_manifold(rvae, n_per_side=5, components=(1,))
    assert ax.images[-1].get_array().shape == (8, 40)


def test_manifold_saves_the_figure(rvae, tmp_path):
    path = tmp_path / "manifold.png"
    plotting.plot_manifold(rvae, n_per_side=3, save=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_manifold_refuses_bad_input(rvae):
    with pytest.raises(NotFittedError):
        plotting.plot_manifold(RotationInvariantVAE())
    with pytest.raises(TypeError, match="RotationInvariantVAE or a Pipeline"):
        plotting.plot_manifold(FunctionTransformer().fit(X_SMALL))
    with pytest.raises(ValueError, match=r"names latent 3, but the estimator has n_components=3"):
        plotting.plot_manifold(rvae, components=(0, 3))
    with pytest.raises(ValueError, match="distinct latent indices"):
        plotting.plot_manifold(rvae, components=(1, 1))
    with pytest.raises(ValueError, match=r"extent must be \(low, high\)"):
        plotting.plot_manifold(rvae, extent=(2.0, -2.0))
    with pytest.raises(ValueError, match="extent or X"):
        plotting.plot_manifold(rvae, extent=(-1, 1), X=X_SMALL)
    with pytest.raises(ValueError, match="n_per_side must be an int >= 2"):
        plotting.plot_manifold(rvae, n_per_side=1)


# ------------------------------------------------------------------ latent and class maps
def test_latent_map_over_a_scan_and_over_positions():
    values = np.arange(12.0)
    ax = plotting.plot_latent_map(values, scan_shape=(3, 4), extent=(0, 4, 3, 0), label="z1")
    np.testing.assert_array_equal(ax.images[0].get_array(), values.reshape(3, 4))
    again = plotting.plot_latent_map(values.reshape(3, 4), scan_shape=(3, 4), colorbar=False)  # already a map
    np.testing.assert_array_equal(again.images[0].get_array(), values.reshape(3, 4))
    np.testing.assert_array_equal(plotting.plot_latent_map(values.reshape(3, 4)).images[0].get_array(),
                                  values.reshape(3, 4))
    assert ax.figure.axes[-1].get_ylabel() == "z1"  # the colorbar
    positions = pd.DataFrame({"row": [1.0, 2.0, 3.0], "col": [4.0, 5.0, 6.0]})
    ax = plotting.plot_latent_map(pd.Series([0.1, 0.2, 0.3]), positions, image=np.ones((8, 8)))
    np.testing.assert_array_equal(ax.collections[-1].get_offsets(), [[4, 1], [5, 2], [6, 3]])  # (x, y) = (col, row)


def test_classes_get_distinct_stable_colours_and_a_legend():
    classes = np.array([1, 3, 3, 7, 1])
    ax = plotting.plot_latent_map(classes, RNG.uniform(0, 10, (5, 2)), label="class")
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["1", "3", "7"] and legend.get_title().get_text() == "class"
    colours = [tuple(c.get_facecolor()[0]) for c in ax.collections]
    assert len(set(colours)) == 3
    tab10 = plt.get_cmap("tab10")
    assert colours == [tuple(tab10(k)) for k in (1, 3, 7)]  # a class keeps its colour from plot to plot
    ax = plotting.plot_latent_map(np.array(["Si", "C", "C", "C"]), scan_shape=(2, 2))
    rgba = _image_rgba(ax)
    assert (rgba[0, 0] != rgba[0, 1]).any() and (rgba[0, 1] == rgba[1, 1]).all()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["C", "Si"]


def test_latent_map_refuses_bad_input():
    with pytest.raises(ValueError, match="positions holds 2 positions but there are 3 values"):
        plotting.plot_latent_map(np.arange(3.0), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"scan_shape=\(2, 2\) holds 4 positions but values has 6"):
        plotting.plot_latent_map(np.arange(6.0), scan_shape=(2, 2))
    with pytest.raises(ValueError, match=r"pass one column, e.g. Z\[:, 0\]"):
        plotting.plot_latent_map(np.zeros((4, 2)), scan_shape=(2, 2))
    with pytest.raises(ValueError, match="is not a map: give scan_shape"):
        plotting.plot_latent_map(np.arange(4.0))
    with pytest.raises(ValueError, match="give positions"):
        plotting.plot_latent_map(np.zeros((2, 2)), image=np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"positions must be \(row, col\) pixel positions of shape \(n, 2\)"):
        plotting.plot_latent_map(np.arange(3.0), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="without the column"):
        plotting.plot_latent_map(np.arange(3.0), pd.DataFrame({"x": [1, 2, 3], "y": [1, 2, 3]}))
    with pytest.raises(ValueError, match="values contains 1 NaN or infinite"):
        plotting.plot_latent_map(np.array([0.0, np.inf]), scan_shape=(1, 2))


# ------------------------------------------------------------------ angle maps
@pytest.mark.parametrize("period", [360.0, 60.0])
def test_angle_hue_wraps_with_the_period(period):
    angles = np.array([0.0, period, -period, 2 * period, period / 2, period / 4])
    ax = plotting.plot_angle_map(angles, scan_shape=(1, 6), period=period)
    rgba = _image_rgba(ax)[0]
    for k in (1, 2, 3):
        np.testing.assert_array_equal(rgba[k], rgba[0])
    assert np.abs(rgba[4] - rgba[0]).max() > 0.3 and np.abs(rgba[5] - rgba[0]).max() > 0.3
    assert len(ax.child_axes) == 1  # the colour wheel


def test_angle_map_over_positions_and_its_wheel():
    ax = plotting.plot_angle_map([0.0, 360.0, 90.0], [[1, 1], [2, 2], [3, 3]], image=np.zeros((5, 5)),
                                 wheel=(0.0, 0.0, 0.3, 0.3), colorbar=True)
    points = ax.collections[-1]
    rgba = points.to_rgba(points.get_array())
    np.testing.assert_array_equal(rgba[0], rgba[1])
    wheel = ax.child_axes[0]
    key = np.asarray(wheel.images[0].get_array())
    n = key.shape[0]
    # Angle 0 sits to the right of the wheel's centre, 90 degrees above it (counter-clockwise).
    np.testing.assert_allclose(key[n // 2, int(n * 0.85)][:3], rgba[0][:3], atol=0.05)
    np.testing.assert_allclose(key[int(n * 0.15), n // 2][:3], rgba[2][:3], atol=0.05)
    with pytest.raises(ValueError, match="period must be a finite period in degrees > 0"):
        plotting.plot_angle_map([0.0], scan_shape=(1, 1), period=0)
    with pytest.raises(ValueError, match="wheel must be True, False or"):
        plotting.plot_angle_map([0.0], scan_shape=(1, 1), wheel=(0, 0, 1))
    no_wheel = plotting.plot_angle_map([0.0], scan_shape=(1, 1), wheel=False)
    assert not no_wheel.child_axes


# ------------------------------------------------------------------ vector field
def test_vector_field_colour_encodes_direction():
    field = np.array([[[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [0.5, 0.0], [0.0, 0.0]]])
    ax = plotting.plot_vector_field(field)
    rgb = np.asarray(ax.images[0].get_array())[0]
    hue = rgb_to_hsv(np.clip(rgb, 0, 1))
    assert abs(hue[0, 0] - 0.0) < 1e-9 and abs(hue[1, 0] - 0.5) < 1e-9  # +x red, -x cyan: opposite hues
    assert abs(hue[2, 0] - 0.25) < 1e-9 and abs(hue[3, 0] - 0.75) < 1e-9  # +y (down on screen), -y
    np.testing.assert_allclose(hue[:4, 2], 1.0)
    assert hue[4, 2] == pytest.approx(0.5) and hue[5, 2] == 0.0  # brightness = magnitude
    # The wheel is the key of the map: +x to the right of its centre, +y below it.
    key = np.asarray(ax.child_axes[0].images[0].get_array())
    n = key.shape[0]
    assert rgb_to_hsv(key[n // 2, int(n * 0.8), :3])[0] == pytest.approx(0.0, abs=0.02)
    assert rgb_to_hsv(key[int(n * 0.8), n // 2, :3])[0] == pytest.approx(0.25, abs=0.02)


def test_vector_field_arrows_point_as_the_field():
    field = np.zeros((8, 8, 2))
    field[..., 1] = 1.0  # +y: down the scan rows
    ax = plotting.plot_vector_field(field, quiver_step=4, wheel=False)
    arrows = ax.collections[-1]
    assert len(arrows.U) == 4 and np.all(arrows.V > 0) and ax.yaxis_inverted()  # +y data, drawn downwards
    ax = plotting.plot_vector_field(field, quiver_step=4, extent=(0, 8, 0, 8))  # y axis up: the arrows flip
    assert np.all(ax.collections[-1].V < 0)


def test_vector_field_refuses_bad_input():
    with pytest.raises(ValueError, match=r"field must have shape \(n_rows, n_cols, 2\).*got shape \(4, 4, 3\)"):
        plotting.plot_vector_field(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"got shape \(4, 2\)"):
        plotting.plot_vector_field(np.zeros((4, 2)))
    nan_message = r"field contains 1 NaN or infinite value\(s\), the first at index \(1, 0, 1\)"
    with pytest.raises(ValueError, match=nan_message):
        plotting.plot_vector_field(np.ones((2, 2, 2)) + np.where(np.arange(8).reshape(2, 2, 2) == 5, np.nan, 0))
    with pytest.raises(TypeError, match="field must be real"):
        plotting.plot_vector_field(np.ones((2, 2, 2), dtype=complex))
    with pytest.raises(ValueError, match="quiver_step must be an int >= 1"):
        plotting.plot_vector_field(np.ones((2, 2, 2)), quiver_step=0)
    with pytest.raises(ValueError, match="max_magnitude"):
        plotting.plot_vector_field(np.ones((2, 2, 2)), max_magnitude=-1.0)


# ------------------------------------------------------------------ tilt maps
def test_tilt_map_colours_the_columns_with_symmetric_limits():
    centers = np.array([[2.0, 3.0], [6.0, 7.0], [4.0, 4.0]])
    tilts = np.array([[1.0, 2.0, -4.0], [-1.0, -2.0, 1.0], [0.5, 0.0, 2.0]])
    ax = plotting.plot_tilt_map(np.zeros((9, 9)), centers, tilts, angle="gamma")
    points = ax.collections[-1]
    np.testing.assert_array_equal(points.get_array(), [-4.0, 1.0, 2.0])
    np.testing.assert_array_equal(points.get_offsets(), centers[:, ::-1])
    assert points.get_clim() == (-4.0, 4.0) and ax.figure.axes[-1].get_ylabel() == "gamma (deg)"
    ax = plotting.plot_tilt_map(np.zeros((9, 9)), centers, tilts, angle=1, vmax=5.0, colorbar=False)
    np.testing.assert_array_equal(ax.collections[-1].get_array(), [2.0, -2.0, 0.0])
    assert ax.collections[-1].get_clim() == (-5.0, 5.0) and len(ax.figure.axes) == 1
    ax = plotting.plot_tilt_map(np.zeros((9, 9)), centers, tilts[:, 0], label="alpha")
    assert ax.figure.axes[-1].get_ylabel() == "alpha"


def test_tilt_map_refuses_bad_input():
    image, centers = np.zeros((9, 9)), np.ones((3, 2))
    with pytest.raises(ValueError, match="angle must be 'alpha', 'beta', 'gamma' or a column index"):
        plotting.plot_tilt_map(image, centers, np.zeros((3, 3)), angle="delta")
    with pytest.raises(ValueError, match=r"tilts must have shape \(n_columns, 3\)"):
        plotting.plot_tilt_map(image, centers, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="tilts holds 2 columns' angles but centers holds 3"):
        plotting.plot_tilt_map(image, centers, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"image must be a 2-D array"):
        plotting.plot_tilt_map(np.zeros((9, 9, 3)), centers, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="vmax must be None or a finite angle"):
        plotting.plot_tilt_map(image, centers, np.zeros((3, 3)), vmax=0.0)


# ------------------------------------------------------------------ trajectories
@pytest.fixture
def tracks_table():
    frames = np.arange(6)
    rows = [dict(frame=f, atom=a, z1=a + 0.1 * f, z2=-f, cls=int(f >= 3)) for a in range(4) for f in frames]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # shuffled: paths must follow the frames


def test_trajectories_in_the_code_plane(tracks_table):
    ax = plotting.plot_trajectories(tracks_table, codes=("z1", "z2"), tracks=[1, 3], color_by="cls",
                                    highlight_frames=[3])
    assert len(ax.lines) == 2 and [line.get_label() for line in ax.lines] == ["atom 1", "atom 3"]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), 1 + 0.1 * np.arange(6))  # frame order
    np.testing.assert_allclose(ax.lines[0].get_ydata(), -np.arange(6))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1"]  # the background's classes
    rings = ax.collections[-1]
    np.testing.assert_allclose(rings.get_offsets(), [[3.3, -3.0]])  # frame 3 of atom 3
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z1", "z2")


def test_trajectories_against_the_frame(tracks_table):
    ax = plotting.plot_trajectories(tracks_table, codes="z1", tracks=[0], highlight_frames=[2, 4])
    data_lines = [line for line in ax.lines if line.get_label() == "atom 0"]
    np.testing.assert_allclose(data_lines[0].get_xdata(), np.arange(6))
    marks = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert sorted(line.get_xdata()[0] for line in marks) == [2, 4]
    assert not ax.collections  # no background against the frame unless asked
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("frame", "z1")


def test_trajectories_from_an_array():
    codes = np.full((3, 5), np.nan)
    codes[0] = np.arange(5.0)
    codes[1, 2:] = [1.0, 2.0, 3.0]
    codes[2, :2] = [4.0, 5.0]
    ax = plotting.plot_trajectories(codes)
    assert [len(line.get_xdata()) for line in ax.lines] == [5, 3, 2]
    np.testing.assert_allclose(ax.lines[1].get_xdata(), [2, 3, 4])


def test_trajectories_refuse_bad_input(tracks_table):
    with pytest.raises(ValueError, match="codes must name the DataFrame's code column"):
        plotting.plot_trajectories(tracks_table)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['z9'\]"):
        plotting.plot_trajectories(tracks_table, codes="z9")
    with pytest.raises(ValueError, match=r"tracks \[7\] are not in trajectories\['atom'\]"):
        plotting.plot_trajectories(tracks_table, codes="z1", tracks=[1, 7])
    with pytest.raises(ValueError, match="color_by='kind' is not a column"):
        plotting.plot_trajectories(tracks_table, codes="z1", color_by="kind")
    with pytest.raises(ValueError, match=r"shape \(n_tracks, n_frames\)"):
        plotting.plot_trajectories(np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match="must hold numbers"):
        plotting.plot_trajectories(tracks_table.assign(z1="a"), codes="z1")
