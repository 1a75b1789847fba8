"""The overlay: YUV-plane blending looks like the RGB blend, --overlay-scale, live tuning; real encode/decode."""

import av
import clips
import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.pipeline.result import Result
from edgeseg.sink.overlay import OverlaySink, blend
from edgeseg.source import open_source

PALETTE = np.array([(0, 0, 0), (255, 0, 0), (0, 200, 255)], np.uint8)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return clips.object_clip(tmp_path_factory.mktemp("ov") / "c.mp4", size=(320, 192), frames=8, crf=12)


def _labels(h, w, i):
    labels = np.zeros((h, w), np.uint8)
    labels[:, : w // 3] = 1
    labels[h // 2:, w // 2 + i:] = 2
    return labels


def _write(clip, path, **kw):
    expected = []
    sink = OverlaySink(path, palette=PALETTE, fps=25, alpha=0.5, **kw)
    with open_source(str(clip.path), export_mvs=False) as src:
        for frame in src:
            labels = _labels(frame.height, frame.width, frame.index)
            expected.append(blend(frame.image, labels, PALETTE, 0.5))
            sink.write(Result(frame, labels, False, 1.0))
    sink.close()
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)], expected


def test_overlay_from_yuv_planes_looks_like_the_rgb_blend(tmp_path, clip):
    got, want = _write(clip, tmp_path / "o.mp4")
    assert len(got) == clip.frames and got[0].shape == (192, 320, 3)
    for g, w in zip(got, want, strict=True):
        assert np.abs(g.astype(int) - w).mean() < 4  # encoder loss and chroma subsampling only


def test_overlay_scale_writes_a_smaller_preview(tmp_path, clip):
    got, want = _write(clip, tmp_path / "half.mp4", scale=0.5)
    assert len(got) == clip.frames and got[0].shape == (96, 160, 3)
    small = want[3][1::2, 1::2]
    assert np.abs(got[3].astype(int) - small).mean() < 8


def test_live_overlay_is_tuned_for_latency_and_plays(tmp_path, clip):
    got, _ = _write(clip, tmp_path / "live.mp4", live=True, preset="ultrafast")
    assert len(got) == clip.frames


@pytest.mark.parametrize("scale", [0, 1.5])
def test_bad_scale_is_a_one_line_error(tmp_path, scale):
    with pytest.raises(ConfigError, match="--overlay-scale"):
        OverlaySink(tmp_path / "x.mp4", palette=PALETTE, fps=25, scale=scale)


def test_a_half_size_preview_makes_its_labels_at_half_size(clip, tmp_path):
    """Scale 1/2: the labels are made on every 2nd row and column (Result.labels_at), never at full size."""
    steps = []
    sink = OverlaySink(tmp_path / "p.mp4", palette=PALETTE, fps=25, alpha=0.5, scale=0.5)
    with open_source(str(clip.path), export_mvs=False) as src:
        for frame in src:
            full = _labels(frame.height, frame.width, frame.index)

            def make(step, full=full):
                steps.append(step)
                return full[step // 2::step, step // 2::step]

            sink.write(Result(frame, None, False, 1.0, make=make))
    sink.close()
    assert steps and set(steps) == {2}
    with av.open(str(tmp_path / "p.mp4")) as c:
        assert (c.streams.video[0].codec_context.height, c.streams.video[0].codec_context.width) == (96, 160)
