"""numconv.tools.filters and the ``numconv filter`` command.

apply_filter is held to two independent oracles: a loop over kernel offsets
on an explicitly padded NumPy array, and torch.nn.functional.conv2d on the
same padding (float64 1e-10, float32 1e-4).
"""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numconv import cli
from numconv.tools import filters
from parity import TOL, rel_error

NUMPY_MODE = {"reflect": "reflect", "replicate": "edge", "zeros": "constant", "circular": "wrap"}


def filter_by_loops(image, kernel, mode):
    """Cross-correlate every channel with ``kernel`` over a NumPy-padded copy, one kernel offset at a time."""
    planes = image[:, :, None] if image.ndim == 2 else image
    kh, kw = kernel.shape
    padded = np.pad(planes.astype(np.float64), ((kh // 2,) * 2, (kw // 2,) * 2, (0, 0)), mode=NUMPY_MODE[mode])
    h, w = planes.shape[:2]
    out = np.zeros(planes.shape)
    for p in range(kh):
        for q in range(kw):
            out += kernel[p, q] * padded[p:p + h, q:q + w]
    return out[:, :, 0] if image.ndim == 2 else out


@st.composite
def filter_cases(draw):
    kh = draw(st.sampled_from([1, 3, 5]))
    kw = draw(st.sampled_from([1, 3, 5]))
    h = draw(st.integers(kh // 2 + 1, 9))  # reflection needs the image larger than the radius
    w = draw(st.integers(kw // 2 + 1, 9))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    mode = draw(st.sampled_from(filters.PADDING_MODES))
    seed = draw(st.integers(0, 2**16))
    return kh, kw, h, w, channels, mode, seed


def _case_arrays(case, dtype):
    kh, kw, h, w, channels, mode, seed = case
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal((kh, kw)), mode


# ---------------------------------------------------------------------------------------------- the kernels
@pytest.mark.parametrize("name, total", [
    ("identity", 1), ("box_blur", 1), ("gaussian_blur", 1), ("sharpen", 1), ("emboss", 1),
    ("outline", 0), ("laplacian", 0), ("sobel_x", 0), ("sobel_y", 0),
])
def test_kernel_weights_sum_as_documented(name, total):
    kernel = filters.get_kernel(name)
    assert kernel.dtype == np.float64 and kernel.ndim == 2 and kernel.shape[0] % 2 == 1
    assert kernel.sum() == pytest.approx(total, abs=1e-12)
    assert filters.default_display(kernel) == ("shift" if total == 0 else "clip")
    assert filters.describe_kernel(name) and "``" not in filters.describe_kernel(name)


def test_kernel_values():
    assert np.array_equal(filters.box_blur(), np.ones((3, 3)) / 9)
    assert np.array_equal(filters.sobel_y(), filters.sobel_x().T)
    assert np.array_equal(filters.sharpen(), filters.identity() - filters.laplacian())
    assert np.array_equal(filters.outline(), 9 * filters.identity() - np.ones((3, 3)))
    g = filters.gaussian_blur(5, 1.0)
    assert np.allclose(g, g.T) and np.allclose(g, g[::-1, ::-1]) and g.argmax() == 12
    assert g[2, 3] / g[2, 2] == pytest.approx(np.exp(-0.5))  # one pixel away at sigma 1
    assert filters.gaussian_blur(None, 2.0).shape == (13, 13)  # 2 * ceil(3 sigma) + 1
    assert np.array_equal(filters.get_kernel("Sobel-X"), filters.sobel_x())
    assert filters.get_kernel("box-blur", size=5).shape == (5, 5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: filters.box_blur(4), ValueError, "odd"),
    (lambda: filters.gaussian_blur(5, 0), ValueError, "sigma"),
    (lambda: filters.gaussian_blur(2.5, 1), TypeError, "size"),
    (lambda: filters.get_kernel("blurry"), ValueError, "unknown kernel 'blurry'; available: box_blur"),
    (lambda: filters.get_kernel(3), TypeError, "kernel name"),
])
def test_kernel_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------------------------------- apply_filter
@given(filter_cases())
def test_apply_filter_equals_loops_float64(case):
    image, kernel, mode = _case_arrays(case, np.float64)
    out = filters.apply_filter(image, kernel, padding_mode=mode)
    assert out.shape == image.shape and out.dtype == np.float64
    assert rel_error(out, filter_by_loops(image, kernel, mode)) <= 1e-10


@pytest.mark.torch
@given(filter_cases(), st.sampled_from([np.float64, np.float32]))
def test_apply_filter_equals_torch(case, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    image, kernel, mode = _case_arrays(case, dtype)
    out = filters.apply_filter(image, kernel, padding_mode=mode)
    assert out.dtype == dtype
    planes = image[:, :, None] if image.ndim == 2 else image
    x = torch.from_numpy(np.ascontiguousarray(planes.transpose(2, 0, 1)))[None]
    c = planes.shape[2]
    weight = torch.from_numpy(np.repeat(kernel[None, None], c, axis=0).astype(dtype))
    kh, kw = kernel.shape
    pads = (kw // 2, kw // 2, kh // 2, kh // 2)
    x = F.pad(x, pads, mode="constant" if mode == "zeros" else mode)
    expected = F.conv2d(x, weight, groups=c)[0].permute(1, 2, 0).numpy()
    expected = expected[:, :, 0] if image.ndim == 2 else expected
    assert rel_error(out, expected) <= (1e-10 if dtype == np.float64 else 1e-4)


def test_uint8_images_are_converted_with_the_display_mode(rng):
    image = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
    for name in ("sharpen", "sobel_x", "gaussian_blur"):
        kernel = filters.get_kernel(name)
        exact = filter_by_loops(image, kernel, "reflect")
        for display in filters.DISPLAY_MODES:
            out = filters.apply_filter(image, kernel, display=display)
            assert out.dtype == np.uint8 and out.shape == image.shape
            assert np.array_equal(out, filters.to_uint8(exact, display))
        auto = filters.apply_filter(image, kernel)
        assert np.array_equal(auto, filters.to_uint8(exact, filters.default_display(kernel)))


def test_to_uint8_modes():
    values = np.array([-300.0, -20.0, 0.0, 20.4, 127.5, 300.0])
    assert filters.to_uint8(values, "clip").tolist() == [0, 0, 0, 20, 128, 255]
    assert filters.to_uint8(values, "shift").tolist() == [0, 118, 128, 138, 192, 255]
    assert filters.to_uint8(values, "abs").tolist() == [255, 20, 0, 20, 128, 255]
    assert filters.to_uint8(values, "stretch").tolist() == [0, 119, 128, 136, 182, 255]  # (v + 300) * 255 / 600
    assert filters.to_uint8(np.full(3, 7.0), "stretch").tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="display must be one of"):
        filters.to_uint8(values, "auto")


@pytest.mark.parametrize("mode", filters.PADDING_MODES)
def test_identity_returns_the_image(mode):
    image = filters.sample_image()
    assert np.array_equal(filters.apply_filter(image, filters.identity(), padding_mode=mode), image)
    # Float images: equal to rounding (conv2d may pick a fast algorithm, e.g. Winograd, that is not bit-exact).
    for dtype, tol in TOL.items():
        gray = (image[:, :, 0] / 255.0).astype(dtype)
        assert rel_error(filters.apply_filter(gray, filters.identity(), padding_mode=mode), gray) <= tol


@pytest.mark.parametrize("mode", filters.PADDING_MODES)
def test_box_blur_of_a_constant_image_is_constant(mode):
    image = np.full((7, 9, 3), 0.6)
    out = filters.apply_filter(image, filters.box_blur(3), padding_mode=mode)
    inner = out if mode != "zeros" else out[1:-1, 1:-1]  # zeros darken the one-pixel border
    assert np.allclose(inner, 0.6, rtol=0, atol=1e-12)
    if mode == "zeros":
        assert out[0, 0, 0] == pytest.approx(0.6 * 4 / 9)  # a corner sees 4 of its 9 pixels


def test_cross_correlation_orientation():
    """Not flipped: sobel_x is positive where the image gets brighter to the right."""
    step = np.zeros((5, 6))
    step[:, 3:] = 1.0
    response = filters.apply_filter(step, filters.sobel_x())
    assert response[2, 2] == 4.0 and response[2, 3] == 4.0 and response[2, 0] == 0.0
    assert filters.apply_filter(step[:, ::-1].copy(), filters.sobel_x())[2, 2] == -4.0
    # emboss lights relief from the upper left: a bright square's upper-left border brightens.
    square = np.zeros((7, 7))
    square[2:5, 2:5] = 1.0
    embossed = filters.apply_filter(square, filters.emboss(), padding_mode="zeros")
    assert embossed[1, 1] > 0 > embossed[5, 5]


@pytest.mark.parametrize("image, kernel, kwargs, error, match", [
    (np.zeros(5), np.ones((3, 3)), {}, ValueError, r"\(H, W\) or \(H, W, C\), got shape \(5,\)"),
    (np.zeros((1, 4, 4, 3)), np.ones((3, 3)), {}, ValueError, "got shape"),
    (np.zeros((4, 4), dtype=np.int16), np.ones((3, 3)), {}, TypeError, "uint8, float32 or float64"),
    ([[0.0, 1.0]], np.ones((1, 1)), {}, TypeError, "NumPy array"),
    (np.zeros((0, 4)), np.ones((1, 1)), {}, ValueError, "empty"),
    (np.zeros((6, 6)), np.ones((4, 4)), {}, ValueError, r"odd height and width.*\(4, 4\)"),
    (np.zeros((6, 6)), np.ones((3, 2)), {}, ValueError, "odd height and width"),
    (np.zeros((6, 6)), np.ones((1, 3, 3)), {}, ValueError, r"2-D kernel \(kH, kW\)"),
    (np.zeros((6, 6)), np.array([[np.nan]]), {}, ValueError, "NaN"),
    (np.zeros((6, 6)), np.array([["a"]]), {}, TypeError, "numeric kernel"),
    (np.zeros((2, 8)), np.ones((5, 5)), {}, ValueError, "reflect.*radius"),
    (np.zeros((6, 6)), np.ones((3, 3)), {"padding_mode": "mirror"}, ValueError, "padding_mode must be one of"),
    (np.zeros((6, 6)), np.ones((3, 3)), {"display": "gamma"}, ValueError, "display must be"),
])
def test_apply_filter_errors(image, kernel, kwargs, error, match):
    with pytest.raises(error, match=match):
        filters.apply_filter(image, kernel, **kwargs)


def test_small_image_with_zero_padding_works():
    out = filters.apply_filter(np.ones((2, 8)), np.ones((5, 5)), padding_mode="zeros")
    assert out.shape == (2, 8) and out[0, 4] == 10.0  # 2 rows x 5 columns of ones under the kernel


def test_sample_image():
    image = filters.sample_image()
    assert image.shape == (144, 216, 3) and image.dtype == np.uint8
    assert image.std() > 30 and len(np.unique(image.reshape(-1, 3), axis=0)) > 1000
    image[:] = 0
    assert filters.sample_image().any()  # each call is a fresh copy


# ---------------------------------------------------------------------------------------------- the command
def _one_error_line(capsys, *pieces):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    for piece in pieces:
        assert piece in err[0], err[0]


def _read_png(path):
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img)


def test_command_lists_kernels(capsys):
    assert cli.main(["filter", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == [name.replace("_", "-") for name in filters.KERNELS]
    assert "horizontal brightness gradient" in lines[list(filters.KERNELS).index("sobel_x")]


def test_command_filters_the_sample(tmp_path, capsys):
    out = tmp_path / "emboss.png"
    assert cli.main(["filter", "--kernel", "emboss", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    expected = filters.apply_filter(filters.sample_image(), filters.emboss())
    assert np.array_equal(_read_png(out), expected)


def test_command_default_name_gray_and_options(tmp_path, monkeypatch, capsys):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    picture = np.random.default_rng(0).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    Image.fromarray(picture).save(tmp_path / "cat.png")
    assert cli.main(["filter", "cat.png", "--kernel", "sobel-x", "--gray", "--padding-mode", "zeros"]) == 0
    gray = np.clip(np.rint(picture.astype(np.float64) @ np.array([0.299, 0.587, 0.114])), 0, 255).astype(np.uint8)
    result = _read_png(tmp_path / "cat-sobel-x.png")
    assert result.shape == (20, 30)
    assert np.array_equal(result, filters.apply_filter(gray, filters.sobel_x(), padding_mode="zeros"))
    assert cli.main(["filter", "cat.png", "-k", "gaussian-blur", "--sigma", "1.5", "--display", "clip"]) == 0
    expected = filters.apply_filter(picture, filters.gaussian_blur(None, 1.5), display="clip")
    assert np.array_equal(_read_png(tmp_path / "cat-gaussian-blur.png"), expected)
    assert "gaussian-blur (11 x 11)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, pieces", [
    (["missing.png"], ["numconv filter: error:", "image 'missing.png' does not exist"]),
    (["notes.txt"], ["cannot read image 'notes.txt'"]),
    (["--kernel", "blur"], ["unknown kernel 'blur'", "see --list"]),
    (["--kernel", "sharpen", "--sigma", "2"], ["--sigma applies to gaussian-blur"]),
    (["--kernel", "box-blur", "--size", "4"], ["odd"]),
    (["-o", "out.xyz"], ["cannot write 'out.xyz'"]),
    (["-o", "no/such/folder/out.png"], ["cannot write"]),
])
def test_command_errors(argv, pieces, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a picture")
    assert cli.main(["filter", *argv]) == 2
    _one_error_line(capsys, *pieces)
    assert not [p for p in os.listdir(tmp_path) if p != "notes.txt"]  # nothing half-written


def test_sample_image_is_what_the_script_draws():
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "make_figures.py")
    spec = importlib.util.spec_from_file_location("make_figures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert np.array_equal(module.draw_landscape(), filters.sample_image())


def test_parse_kernel_and_the_filter_command_with_a_written_out_kernel(tmp_path, capsys):
    from numconv.cli import main

    np.testing.assert_array_equal(filters.parse_kernel("-1,0,1;-2,0,2;-1,0,1"), filters.get_kernel("sobel_x"))
    assert filters.parse_kernel(" 0.5 ").shape == (1, 1)
    for text, words in [("1,2;3", "same number of values"), ("1,x", "not a number"), (";", "empty row"),
                        ("1,inf", "finite")]:
        with pytest.raises(ValueError, match=words):
            filters.parse_kernel(text)
    pytest.importorskip("PIL")
    mine, named = tmp_path / "mine.png", tmp_path / "named.png"
    assert main(["filter", "--kernel", "1,0,-1;2,0,-2;1,0,-1", "-o", str(tmp_path / "flipped.png")]) == 0
    assert "kernel custom (3 x 3)" in capsys.readouterr().out
    assert main(["filter", "--kernel=-1,0,1;-2,0,2;-1,0,1", "-o", str(mine)]) == 0  # "=": it starts with a minus
    assert "kernel custom (3 x 3)" in capsys.readouterr().out
    assert main(["filter", "--kernel", "sobel-x", "-o", str(named)]) == 0
    assert mine.read_bytes() == named.read_bytes()
    assert main(["filter", "--kernel", "1,2;3"]) == 2
    assert "same number of values" in capsys.readouterr().err
    assert main(["filter", "--kernel", "1,0;0,1", "--size", "3"]) == 2


def test_a_failed_write_leaves_the_old_picture_whole(tmp_path, monkeypatch, capsys):
    # A full disk mid-save: the output is written to a temporary file and renamed, so the old one survives.
    from PIL import Image

    out = tmp_path / "out.png"
    assert cli.main(["filter", "--kernel", "emboss", "-o", str(out)]) == 0
    before = out.read_bytes()

    def disk_full(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half a picture")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    assert cli.main(["filter", "--kernel", "sobel-x", "-o", str(out)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_a_16_bit_picture_reads_as_its_8_bit_self(tmp_path):
    # Pillow's convert("L") clips 16-bit values at 255: a 16-bit scan read as black and white (2 grey levels).
    from PIL import Image

    from numconv.commands.filter import _read_image
    from numconv.commands.predict import load_image

    eight = np.random.default_rng(0).integers(0, 256, size=(30, 40), dtype=np.uint8)
    Image.fromarray(eight).save(tmp_path / "eight.png")
    Image.fromarray(eight.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")  # the same picture in 16 bits
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")
    np.testing.assert_array_equal(_read_image(str(tmp_path / "sixteen.png")), eight)
    predicted_from = [load_image(str(tmp_path / name))[0] for name in ("sixteen.png", "eight.png")]
    np.testing.assert_array_equal(*predicted_from)
