"""PNG writer/reader: round trips, files from other encoders (all row filters), one-line errors."""

import zlib

import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.sink.png import encode_png, read_png, write_png


@pytest.mark.parametrize("up", [False, True])
@pytest.mark.parametrize("shape", [(1, 1), (37, 51), (20, 33, 3), (9, 7, 4)])
def test_round_trip(tmp_path, shape, up):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    write_png(tmp_path / "a.png", img, up=up)
    back = read_png(tmp_path / "a.png")
    assert back.dtype == np.uint8 and back.shape == shape and np.array_equal(back, img)


def test_files_we_write_open_in_opencv(tmp_path):
    cv2 = pytest.importorskip("cv2")
    lab = np.random.default_rng(1).integers(0, 8, (40, 60), dtype=np.uint8)
    rgb = np.random.default_rng(2).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    write_png(tmp_path / "l.png", lab)
    write_png(tmp_path / "c.png", rgb)
    write_png(tmp_path / "u.png", lab, rle=True, up=True)  # the masks' settings
    assert np.array_equal(cv2.imread(str(tmp_path / "l.png"), cv2.IMREAD_UNCHANGED), lab)
    assert np.array_equal(cv2.imread(str(tmp_path / "c.png"))[..., ::-1], rgb)
    assert np.array_equal(cv2.imread(str(tmp_path / "u.png"), cv2.IMREAD_UNCHANGED), lab)


def test_reads_every_row_filter_from_another_encoder(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    y, x = np.mgrid[0:48, 0:64]
    smooth = np.stack([(x * 3 + y) % 256, (y * 5) % 256, (x * y) % 256], -1).astype(np.uint8)
    noisy = np.random.default_rng(3).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    img = np.concatenate([smooth, noisy], 0)
    pil.fromarray(img).save(tmp_path / "p.png", optimize=True)  # adaptive filters (sub/up/avg/paeth)
    data = (tmp_path / "p.png").read_bytes()
    at = data.index(b"IDAT")
    raw = zlib.decompress(data[at + 4:at + 4 + int.from_bytes(data[at - 4:at], "big")])
    assert len({raw[r * (64 * 3 + 1)] for r in range(96)}) > 1  # more than one filter type in use
    assert np.array_equal(read_png(tmp_path / "p.png"), img)
    pil.fromarray(img[..., 0]).convert("P").save(tmp_path / "pal.png")
    assert read_png(tmp_path / "pal.png").shape == (96, 64)


def test_bad_files_raise_one_line_errors(tmp_path):
    (tmp_path / "t.png").write_bytes(b"hello, not a png")
    good = encode_png(np.zeros((30, 30), np.uint8) + 7)
    (tmp_path / "cut.png").write_bytes(good[:40])
    cases = {
        tmp_path / "t.png": "not a PNG file",
        tmp_path / "cut.png": "corrupt PNG",
        tmp_path / "none.png": "cannot read the PNG",
    }
    cv2 = pytest.importorskip("cv2")
    cv2.imwrite(str(tmp_path / "deep.png"), np.zeros((4, 4), np.uint16))
    cases[tmp_path / "deep.png"] = "unsupported PNG (bit depth 16"
    for path, msg in cases.items():
        with pytest.raises(ConfigError) as e:
            read_png(path)
        assert str(e.value).startswith(f"{path}: {msg}") and "\n" not in str(e.value)


def test_bad_arrays_and_paths(tmp_path):
    with pytest.raises(ConfigError, match="is not H×W or H×W×3/4 uint8"):
        write_png(tmp_path / "f.png", np.zeros((4, 4), np.float32))
    with pytest.raises(ConfigError, match="cannot write the PNG"):
        write_png(tmp_path / "no" / "dir" / "f.png", np.zeros((4, 4), np.uint8))


def test_run_length_strategy_round_trips_label_maps(tmp_path):
    labels = np.zeros((37, 53), np.uint8)
    labels[5:20, 10:40] = 3
    labels[25:, :7] = 250
    write_png(tmp_path / "rle.png", labels, rle=True)
    np.testing.assert_array_equal(read_png(tmp_path / "rle.png"), labels)
    write_png(tmp_path / "up.png", labels, rle=True, up=True)
    np.testing.assert_array_equal(read_png(tmp_path / "up.png"), labels)
    assert (tmp_path / "up.png").stat().st_size < (tmp_path / "rle.png").stat().st_size  # rows repeat
