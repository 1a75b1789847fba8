"""Labels from class scores, guided by the frame's own pixels: a training-free fix of where carried-along scores
sit against the frame's edges.

Usage::

    up = GuidedUpsampler((45, 60), (360, 480))
    labels = up(scores_khw, guide_hw3, frame)   # guide: the colour each cell's scores came with

Plain upsampling (edgeseg.pipeline.labels) blends the 2×2 cells around a pixel by distance alone. Here each
cell also carries a colour: for a keyframe the frame's own cell colour, for a non-keyframe the keyframes'
thumbnails moved and blended exactly as its scores were (edgeseg.pipeline.propagate / interpolate). A cell's
weight at a pixel is its bilinear weight times exp(−|pixel colour − cell colour|₁ / scale): where block motion
left a car's scores half a cell off the car, the road-coloured pixels next to it take the road's scores.
Only quads whose cells disagree on the argmax are computed (as LabelUpsampler does); pixel colours come from the
decoder's YUV planes (BT.601, with edgeseg.source.thumbnail's constants) or the RGB image. The NumPy path gives
the same labels at 5-10× the kernel's cost; while a process waits for its kernels' first background compile
(edgeseg.system.jit: the first run on a machine) labels are upsampled plainly instead, so that the first run
keeps its speed; `edgeseg warmup` compiles them up front.
"""

from __future__ import annotations

import numpy as np

from edgeseg.pipeline.labels import LabelUpsampler, argmax_axis1
from edgeseg.source.frame import Frame
from edgeseg.source.thumbnail import CHROMA, FULL_RANGE, LIMITED_RANGE, to_rgb
from edgeseg.system import jit
from edgeseg.system.jit import compiled

GUIDE_SCALE = 24.0  # L1 RGB distance (0…765) that divides a cell's weight by e; measured (docs/DECISIONS.md)


def _guided_argmax(scores, low, guide, p0, p1, p2, yuv, gain, y0, cgain, falloff, by0, by1, bny, ystart, wy,
                   bx0, bx1, bnx, xstart, wx, out):
    """The kernel of GuidedUpsampler (numba-compiled): uniform quads (low: each cell's argmax) filled, crossed
    quads a pixel row at a time over the classes no other class beats at all four corners. p0, p1, p2: Y, U, V
    planes (yuv) or R, G, B."""
    k = scores.shape[0]
    s, g = np.empty((4, k), np.float32), np.empty((4, 3), np.float32)
    cand = np.empty(k, np.int64)
    mx = wx.shape[1]
    red, green, blue = np.empty(mx, np.float32), np.empty(mx, np.float32), np.empty(mx, np.float32)
    weight, best_row, lab_row = np.empty((4, mx), np.float32), np.empty(mx, np.float32), np.empty(mx, np.uint8)
    lo, hi = np.float32(0.0), np.float32(255.0)
    for bi in range(by0.shape[0]):
        ya, yb, ny, r0 = by0[bi], by1[bi], bny[bi], ystart[bi]
        for bj in range(bx0.shape[0]):
            xa, xb, nx, c0 = bx0[bj], bx1[bj], bnx[bj], xstart[bj]
            l0 = low[ya, xa]
            if l0 == low[ya, xb] and l0 == low[yb, xa] and l0 == low[yb, xb]:
                out[r0:r0 + ny, c0:c0 + nx] = np.uint8(l0)
                continue
            for q, (cy, cx) in enumerate(((ya, xa), (ya, xb), (yb, xa), (yb, xb))):
                for c in range(k):
                    s[q, c] = scores[c, cy, cx]
                for c in range(3):
                    g[q, c] = guide[cy, cx, c]
            nc = 0
            for c in range(k):
                beaten = False
                for m in range(k):
                    if s[0, m] > s[0, c] and s[1, m] > s[1, c] and s[2, m] > s[2, c] and s[3, m] > s[3, c]:
                        beaten = True
                        break
                if not beaten:
                    cand[nc] = c
                    nc += 1
            for t in range(ny):  # a pixel row at a time, each step a loop over the row that LLVM vectorises
                row, crow = r0 + t, (r0 + t) >> 1
                w1y = wy[bi, t]
                w0y = np.float32(1.0) - w1y
                if yuv:
                    for u in range(nx):
                        lum = (np.float32(p0[row, c0 + u]) - y0) * gain
                        cb = (np.float32(p1[crow, (c0 + u) >> 1]) - np.float32(128.0)) * cgain
                        cr = (np.float32(p2[crow, (c0 + u) >> 1]) - np.float32(128.0)) * cgain
                        red[u] = min(max(lum + CHROMA[0, 1] * cr, lo), hi)
                        green[u] = min(max(lum + CHROMA[1, 0] * cb + CHROMA[1, 1] * cr, lo), hi)
                        blue[u] = min(max(lum + CHROMA[2, 0] * cb, lo), hi)
                else:
                    for u in range(nx):
                        red[u], green[u], blue[u] = p0[row, c0 + u], p1[row, c0 + u], p2[row, c0 + u]
                for q in range(4):  # exp(−d / scale) from a table at whole distances (d ≤ 765)
                    wq = w0y if q < 2 else w1y
                    g0, g1, g2 = g[q, 0], g[q, 1], g[q, 2]
                    for u in range(nx):
                        d = abs(red[u] - g0) + abs(green[u] - g1) + abs(blue[u] - g2)
                        wx1 = wx[bj, u]
                        wxq = wx1 if q & 1 else np.float32(1.0) - wx1
                        weight[q, u] = wq * wxq * falloff[min(np.uintp(d), np.uintp(765))]
                c = cand[0]
                for u in range(nx):
                    best_row[u] = (weight[0, u] * s[0, c] + weight[1, u] * s[1, c] + weight[2, u] * s[2, c]
                                   + weight[3, u] * s[3, c])
                    lab_row[u] = np.uint8(c)
                for j in range(1, nc):  # a later class wins only if strictly higher: first index on ties
                    c = cand[j]
                    for u in range(nx):
                        v = (weight[0, u] * s[0, c] + weight[1, u] * s[1, c] + weight[2, u] * s[2, c]
                             + weight[3, u] * s[3, c])
                        if v > best_row[u]:
                            best_row[u], lab_row[u] = v, np.uint8(c)
                out[row, c0:c0 + nx] = lab_row[:nx]


def pixel_planes(frame):
    """(p0, p1, p2, yuv, gain, offset, chroma gain) of a frame for the kernel: its YUV 4:2:0 planes where the
    decoder gives them, else its RGB image's channels."""
    planes = frame.yuv420()
    if planes is not None:
        *yuv, full_range = planes
        return (*yuv, True, *(FULL_RANGE if full_range else LIMITED_RANGE))
    image = frame.image
    return (image[..., 0], image[..., 1], image[..., 2], False, *FULL_RANGE)


class _SampledPixels:
    """A frame's pixels at every `step`-th row and column from step // 2 (see LabelUpsampler.sampled), as
    pixel_planes gives them: strided views, no copy. Chroma rows and columns are taken so that the kernel's
    (row >> 1, col >> 1) lookup lands on the chroma sample of each sampled pixel's 2×2 block pair."""

    def __init__(self, frame: Frame, step: int):
        self.frame, self.step = frame, step

    def yuv420(self):
        planes = self.frame.yuv420()
        if planes is None:
            return None
        (y, u, v, full), s, o = planes, self.step, self.step // 2
        return y[o::s, o::s], u[o // 2::s, o // 2::s], v[o // 2::s, o // 2::s], full

    @property
    def image(self):
        o = self.step // 2
        return self.frame.image[o::self.step, o::self.step]


def _rgb(p0, p1, p2, yuv, gain, y0, cgain, rows, cols) -> np.ndarray:
    """(N, 3) float32 pixel colours at (rows, cols) (NumPy path)."""
    if not yuv:
        return np.stack([p[rows, cols] for p in (p0, p1, p2)], -1).astype(np.float32)
    lum = (p0[rows, cols].astype(np.float32) - y0) * gain
    cb = (p1[rows >> 1, cols >> 1].astype(np.float32) - 128) * cgain
    cr = (p2[rows >> 1, cols >> 1].astype(np.float32) - 128) * cgain
    return to_rgb(lum, cb, cr)


class GuidedUpsampler(LabelUpsampler):
    """LabelUpsampler whose cell weights also fall with the colour distance between each pixel and the colour
    its cell's scores came with (see the module docstring). scale: GUIDE_SCALE."""

    def __init__(self, src_hw, dst_hw, *, align_corners: bool = False, scale: float = GUIDE_SCALE):
        super().__init__(src_hw, dst_hw, align_corners=align_corners)
        self.scale = scale
        self.inv_scale = np.float32(1.0 / scale)
        self.falloff = np.exp(-(np.arange(766) + 0.5) * (1.0 / scale)).astype(np.float32)  # per whole distance

    def _options(self) -> dict:
        return {"align_corners": self.align_corners, "scale": self.scale}

    def __call__(self, scores: np.ndarray, guide=None, frame: Frame | None = None, *, step: int = 1
                 ) -> np.ndarray:
        """scores (K, h, w), guide (h, w, 3) RGB colours of the cells, frame: whose pixels guide → (H, W) uint8.
        Without a guide or frame: plain LabelUpsampler labels. step > 1: the labels of every step-th pixel row
        and column only (LabelUpsampler.sampled), guided by those pixels: 1/step² of the work."""
        if step > 1:
            return self.sampled(step)(scores, guide, frame and _SampledPixels(frame, step))
        on_device = type(scores).__module__.startswith("cupy")
        if on_device and guide is not None and frame is not None:  # the CUDA twin: only labels come back
            from edgeseg.pipeline.guide_cuda import guided_argmax_cuda

            return guided_argmax_cuda(self, scores, guide, pixel_planes(frame))
        if on_device:
            scores = scores.get()
        if guide is None or frame is None:
            return super().__call__(scores)
        assert scores.shape[1:] == self.src_hw, f"scores are {scores.shape[1:]}, upsampler built for {self.src_hw}"
        planes = pixel_planes(frame)
        guide = np.ascontiguousarray(guide.get() if hasattr(guide, "get") else guide, np.float32)
        kernel = compiled(_guided_argmax)
        if kernel is None and jit.compiling():  # cold kernel cache: plain labels until the compile is done
            return super().__call__(scores)
        if kernel is None:
            return self.guided_numpy(scores, guide, planes)
        out = np.empty(self.dst_hw, np.uint8)
        scores = np.ascontiguousarray(scores, np.float32)
        kernel(scores, scores.argmax(axis=0), guide, *planes, self.falloff, self._y0, self._y1,
               self._ny, self._ystart, self._wy, self._x0, self._x1, self._nx, self._xstart, self._wx, out)
        return out

    def guided_numpy(self, scores: np.ndarray, guide: np.ndarray, planes) -> np.ndarray:
        """The same labels in NumPy: the crossed quads as whole-array passes, (quad, corner, pixel) at a time."""
        out = self.numpy(scores)  # uniform quads (and a first guess for the crossed ones)
        low = scores.argmax(axis=0)
        top, bottom = low[self._y0], low[self._y1]
        l00 = top[:, self._x0]
        qi, qj = np.nonzero((l00 != top[:, self._x1]) | (l00 != bottom[:, self._x0]) | (l00 != bottom[:, self._x1]))
        if qi.size == 0:
            return out
        q, (H, W) = len(qi), self.dst_hw
        pix = self._pix[qi, qj]  # (Q, P): each quad's pixels, flat output indices; padding points past the image
        inside = pix < H * W
        rows, cols = np.divmod(np.minimum(pix, H * W - 1), W)
        colour = _rgb(*planes[:4], *planes[4:], rows, cols)  # (Q, P, 3)
        cy = np.stack([self._y0[qi], self._y0[qi], self._y1[qi], self._y1[qi]], 1)  # (Q, 4) corner cells
        cx = np.stack([self._x0[qj], self._x1[qj], self._x0[qj], self._x1[qj]], 1)
        corner_colour = guide[cy, cx]  # (Q, 4, 3)
        dist = np.abs(colour[None, :, :, 0] - corner_colour[:, :, 0].T[:, :, None])  # (4, Q, P), a channel at a time
        for c in (1, 2):
            dist += np.abs(colour[None, :, :, c] - corner_colour[:, :, c].T[:, :, None])
        dist = dist.transpose(1, 0, 2)  # (Q, 4, P)
        wy, wx = self._wy[qi], self._wx[qj]  # (Q, my), (Q, mx)
        base = np.stack([(1 - wy)[:, :, None] * (1 - wx)[:, None], (1 - wy)[:, :, None] * wx[:, None],
                         wy[:, :, None] * (1 - wx)[:, None], wy[:, :, None] * wx[:, None]], 1).reshape(q, 4, -1)
        weight = base * self.falloff[np.minimum(dist, 765).astype(np.intp)]
        corner = scores[:, cy, cx].transpose(1, 0, 2)  # (Q, K, 4)
        labels = argmax_axis1(np.matmul(corner, weight))  # (Q, P)
        flat = out.reshape(-1)
        flat[pix[inside]] = labels[inside]
        return out
