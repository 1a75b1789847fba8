"""The CuPy twin of the guided label kernel (edgeseg.pipeline.guide): labels from class scores that stay on the
GPU, guided by the frame's pixels, one CUDA thread per output pixel.

Usage: ``labels = guided_argmax_cuda(up, scores_dev, guide_dev, planes)`` (GuidedUpsampler calls it for CuPy
scores; ``up``: the GuidedUpsampler, ``planes``: guide.pixel_planes(frame)) → (H, W) uint8 on the host.

The same arithmetic as the numba kernel, in float32 and without fused multiply-adds (NVRTC's --fmad=false), so
that labels agree with the CPU path to the last tie: per pixel the two bilinear taps of its row and column (a
pixel on a border or exactly on a cell reads one cell, as LabelUpsampler's bands do), a uniform quad takes its
cells' argmax, a crossed one weighs each corner by its bilinear weight times exp(−L1 RGB distance / scale)
from the same table, and the first class with the highest weighted score wins. The CPU kernel skips classes
that another beats at all four corners; with weights ≥ 0 that sum to more than 0 such a class can never reach
the maximum, so taking every class gives the same labels. Decoder planes are uploaded once per call (4:2:0:
1.5 bytes a pixel); only the label map comes back.
"""

from __future__ import annotations

import functools

import numpy as np

_SOURCE = r"""
extern "C" __global__ void guided_argmax(
    const float* scores, const int k, const int h, const int w, const unsigned char* low, const float* guide,
    const unsigned char* p0, const unsigned char* p1, const unsigned char* p2,
    const long long s0, const long long s1, const long long s2, const int yuv,
    const float gain, const float y0, const float cgain, const float* falloff,
    const int* ry0, const int* ry1, const float* rwy, const int* cx0, const int* cx1, const float* cwx,
    const int H, const int W, unsigned char* out)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    const int r = blockIdx.y * blockDim.y + threadIdx.y;
    if (r >= H || c >= W) return;
    const int ya = ry0[r], yb = ry1[r], xa = cx0[c], xb = cx1[c];
    const unsigned char l0 = low[ya * w + xa];
    if (l0 == low[ya * w + xb] && l0 == low[yb * w + xa] && l0 == low[yb * w + xb]) {
        out[(long long)r * W + c] = l0;
        return;
    }
    float px[3];
    if (yuv) {
        const float lum = ((float)p0[r * s0 + c] - y0) * gain;
        const float cb = ((float)p1[(r >> 1) * s1 + (c >> 1)] - 128.0f) * cgain;
        const float cr = ((float)p2[(r >> 1) * s2 + (c >> 1)] - 128.0f) * cgain;
        px[0] = fminf(fmaxf(lum + 1.402f * cr, 0.0f), 255.0f);
        px[1] = fminf(fmaxf(lum + (-0.344136f) * cb + (-0.714136f) * cr, 0.0f), 255.0f);
        px[2] = fminf(fmaxf(lum + 1.772f * cb, 0.0f), 255.0f);
    } else {
        px[0] = (float)p0[r * s0 + c];
        px[1] = (float)p1[r * s1 + c];
        px[2] = (float)p2[r * s2 + c];
    }
    const float w1y = rwy[r], w0y = 1.0f - w1y, w1x = cwx[c], w0x = 1.0f - w1x;
    const int cy[4] = {ya, ya, yb, yb};
    const int cx[4] = {xa, xb, xa, xb};
    float wt[4];
    for (int q = 0; q < 4; ++q) {
        const float* g = guide + 3 * (cy[q] * w + cx[q]);
        const float d = fabsf(px[0] - g[0]) + fabsf(px[1] - g[1]) + fabsf(px[2] - g[2]);
        const unsigned int i = d >= 765.0f ? 765u : (unsigned int)d;
        wt[q] = (q < 2 ? w0y : w1y) * ((q & 1) ? w1x : w0x) * falloff[i];
    }
    const long long plane = (long long)h * w;
    float best = 0.0f;
    unsigned char label = 0;
    for (int j = 0; j < k; ++j) {
        const float* s = scores + j * plane;
        const float v = wt[0] * s[ya * w + xa] + wt[1] * s[ya * w + xb] + wt[2] * s[yb * w + xa]
                        + wt[3] * s[yb * w + xb];
        if (j == 0 || v > best) {
            best = v;
            label = (unsigned char)j;
        }
    }
    out[(long long)r * W + c] = label;
}
"""


@functools.cache
def _kernel():
    import cupy

    return cupy.RawKernel(_SOURCE, "guided_argmax", options=("--fmad=false",))


def _axis_taps(n_in: int, n_out: int, align_corners: bool):
    """Per output index: the two source cells and the weight of the second (one cell where the weight is 0)."""
    from edgeseg.pipeline.labels import resize_taps

    i0, i1, w1 = resize_taps(n_in, n_out, align_corners=align_corners)
    i1 = np.where(w1 == 0, i0, i1)
    return i0.astype(np.int32), i1.astype(np.int32), w1.astype(np.float32)


@functools.lru_cache(maxsize=8)
def _device_taps(src_hw: tuple[int, int], dst_hw: tuple[int, int], align_corners: bool):
    import cupy

    rows = _axis_taps(src_hw[0], dst_hw[0], align_corners)
    cols = _axis_taps(src_hw[1], dst_hw[1], align_corners)
    return tuple(cupy.asarray(a) for a in (*rows, *cols))


def guided_argmax_cuda(up, scores, guide, planes) -> np.ndarray:
    """Labels (H, W) uint8 on the host from device scores (K, h, w) and guide (h, w, 3), with the frame's pixel
    planes (host arrays, see guide.pixel_planes) uploaded; `up` gives the sizes, weights and falloff table."""
    import cupy

    p0, p1, p2, yuv, gain, y0, cgain = planes
    scores = cupy.ascontiguousarray(scores, cupy.float32)
    guide = cupy.ascontiguousarray(cupy.asarray(guide), cupy.float32)
    k, h, w = scores.shape
    H, W = up.dst_hw
    low = scores.argmax(axis=0).astype(cupy.uint8)
    dev = [cupy.asarray(np.ascontiguousarray(p)) for p in (p0, p1, p2)]
    out = cupy.empty((H, W), cupy.uint8)
    taps = _device_taps(tuple(up.src_hw), tuple(up.dst_hw), bool(up.align_corners))
    falloff = cupy.asarray(up.falloff)
    block = (32, 8)
    grid = ((W + block[0] - 1) // block[0], (H + block[1] - 1) // block[1])
    _kernel()(grid, block, (scores, np.int32(k), np.int32(h), np.int32(w), low, guide, *dev,
                            *(np.int64(d.shape[1]) for d in dev), np.int32(bool(yuv)), np.float32(gain),
                            np.float32(y0), np.float32(cgain), falloff, *taps, np.int32(H), np.int32(W), out))
    return out.get()
