"""Dense optical flow (OpenCV DIS) as a motion source: the paper's prop-flow baseline for `--mode flow`.

Usage: ``for frame, field in OpticalFlowFields(stride=16).fields(frames): ...``
Needs the `bench` extra (opencv-python-headless); imported lazily.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from edgeseg.motion.field import MotionField
from edgeseg.source.frame import Frame

PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}


def _cv2():
    from edgeseg.system.extras import require

    return require("cv2", purpose="--mode flow (optical flow)")


class OpticalFlowFields:
    """Per-frame MotionField from DIS optical flow to the previous frame, averaged over stride cells.

    Contract: same semantics as block motion (frame_t(p) ≈ frame_{t-1}(p + d)); every cell valid except on
    the first frame.
    """

    def __init__(self, *, stride: int = 16, preset: str = "fast"):
        cv2 = _cv2()
        self.stride = stride
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])
        self._gray = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    def field(self, prev_gray: np.ndarray, gray: np.ndarray) -> MotionField:
        flow = self._dis.calc(gray, prev_gray, None)  # flow[p] = displacement from gray(p) into prev_gray
        h, w = gray.shape
        s = self.stride
        gh, gw = -(-h // s), -(-w // s)
        pad = np.pad(flow, ((0, gh * s - h), (0, gw * s - w), (0, 0)), mode="edge")
        cells = pad.reshape(gh, s, gw, s, 2).mean(axis=(1, 3))
        return MotionField(cells[..., 0].astype(np.float32), cells[..., 1].astype(np.float32),
                           np.ones((gh, gw), bool), s, h, w)

    def fields(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, MotionField]]:
        prev = None
        for frame in frames:
            gray = self._gray(frame.image)
            if prev is None or prev.shape != gray.shape:
                yield frame, MotionField.empty(frame.height, frame.width, self.stride)
            else:
                yield frame, self.field(prev, gray)
            prev = gray
