"""SIMD forms of the bilinear kernels' inner steps for numba, written as LLVM vector IR.

Usage: ``register()`` before the first compile of a kernel that uses them (bilinear.with_simd does).

numba leaves the kernels' short loops scalar (LLVM cannot prove the output and source arrays apart, and its SLP
vectoriser is off). This module gives four plain-Python steps of ``edgeseg.warp.steps`` vector
implementations through numba overloads (and compiles the scalar `corner` they share):
- ``taps8``: one point's four taps over eight channels (four unaligned ``<8 x float>`` loads);
- ``taps2``: one point of a two-channel map (both horizontal taps in one ``<4 x float>`` load);
- ``samples8`` / ``steps8``: eight consecutive points of the blend (C = 8) / of a position-chain step, whose
  clamping, cell indices and weights (``corner``, compiled here as written) are computed as eight-lane vectors
  before the taps.
The arithmetic is the plain definitions', operation for operation and in the same order, so results are
bit-identical for finite positions (tested). LLVM lowers the vector types on any target (SSE/AVX on x86, NEON on Jetson's ARM
cores). Importing this module imports numba. numba's on-disk cache of the kernels is keyed on bilinear.py: after
editing only this module or steps.py in a source checkout, delete edgeseg/warp/__pycache__/*.nbi so they recompile.
"""

from __future__ import annotations

import functools

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from edgeseg.warp import steps

_VEC = ir.VectorType(ir.FloatType(), 8)
_VEC4 = ir.VectorType(ir.FloatType(), 4)
_VEC2 = ir.VectorType(ir.FloatType(), 2)
_VEC16 = ir.VectorType(ir.FloatType(), 16)
_IVEC = ir.VectorType(ir.IntType(64), 8)


def _mask(*lanes):
    return ir.Constant(ir.VectorType(ir.IntType(32), len(lanes)), list(lanes))


def _splat(builder, x, vec):
    one = builder.insert_element(ir.Constant(vec, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, ir.Constant(vec, ir.Undefined), _mask(*[0] * vec.count))


def _load(builder, ptr, offset, vec):
    return builder.load(builder.bitcast(builder.gep(ptr, [offset]), vec.as_pointer()), align=4)


def _data(context, builder, arrty, value):
    return context.make_array(arrty)(context, builder, value).data


def _i64(n: int):
    return ir.Constant(ir.IntType(64), n)


def _sum8(builder, s_ptr, b, dx, dy, weights):
    """((w00·src[b:+8] + w01·src[b+dx:+8]) + w10·src[b+dy:+8]) + w11·src[b+dy+dx:+8] as <8 x float>."""
    offsets = [b, builder.add(b, dx), builder.add(b, dy), builder.add(builder.add(b, dy), dx)]
    s = None
    for offset, w in zip(offsets, weights, strict=True):
        term = builder.fmul(_load(builder, s_ptr, offset, _VEC), _splat(builder, w, _VEC))
        s = term if s is None else builder.fadd(s, term)
    return s


def _put8(builder, o_ptr, oi, s, accumulate):
    """out[oi:oi+8] = s, or += s when accumulate."""
    o = builder.bitcast(builder.gep(o_ptr, [oi]), _VEC.as_pointer())
    with builder.if_else(accumulate) as (add, store):
        with add:
            builder.store(builder.fadd(builder.load(o, align=4), s), o, align=4)
        with store:
            builder.store(s, o, align=4)


def _sum2(builder, s_ptr, b, dy, weights):
    """The two channels of a two-channel map's bilinear sample as <2 x float>: the taps (x0, y0), (x0 + 1, y0)
    are one load of four floats, the row below another; summed in the scalar code's order."""
    undef = ir.Constant(_VEC4, ir.Undefined)

    def pair(wa, wb):  # <wa, wa, wb, wb>
        v = builder.insert_element(undef, wa, ir.Constant(ir.IntType(32), 0))
        v = builder.insert_element(v, wb, ir.Constant(ir.IntType(32), 2))
        return builder.shuffle_vector(v, undef, _mask(0, 0, 2, 2))

    top = builder.fmul(_load(builder, s_ptr, b, _VEC4), pair(weights[0], weights[1]))
    bottom = builder.fmul(_load(builder, s_ptr, builder.add(b, dy), _VEC4), pair(weights[2], weights[3]))
    s = builder.fadd(builder.shuffle_vector(top, undef, _mask(0, 1)), builder.shuffle_vector(top, undef, _mask(2, 3)))
    s = builder.fadd(s, builder.shuffle_vector(bottom, undef, _mask(0, 1)))
    return builder.fadd(s, builder.shuffle_vector(bottom, undef, _mask(2, 3)))


def _put2(builder, o_ptr, oi, s):
    builder.store(s, builder.bitcast(builder.gep(o_ptr, [oi]), _VEC2.as_pointer()), align=4)


def _halves(builder, pairs):
    """<16 x float> of eight interleaved (x, y) pairs → (x <8 x float>, y <8 x float>)."""
    undef = ir.Constant(_VEC16, ir.Undefined)
    return (builder.shuffle_vector(pairs, undef, _mask(*range(0, 16, 2))),
            builder.shuffle_vector(pairs, undef, _mask(*range(1, 16, 2))))


def _corners(builder, x, y, xmax, ymax, xm, ym, ws):
    """Vector form of the kernels' tap arithmetic for eight points: clamp (x, y) to [0, max], the top-left cell
    (capped at size − 2), its flat cell index y0·ws + x0, and the four bilinear weights (gx·gy, fx·gy, gx·fy,
    fx·fy), in the scalar code's order of operations."""
    zero, one = ir.Constant(_VEC, [0.0] * 8), ir.Constant(_VEC, [1.0] * 8)
    corner = []
    for v, hi, top in ((x, xmax, xm), (y, ymax, ym)):
        v = builder.select(builder.fcmp_ordered(">", v, zero), v, zero)  # max(v, 0)
        hi_v = _splat(builder, hi, _VEC)
        v = builder.select(builder.fcmp_ordered("<", v, hi_v), v, hi_v)  # min(v, size - 1)
        cell = builder.fptoui(v, _IVEC)
        top_v = _splat(builder, top, _IVEC)
        cell = builder.select(builder.icmp_unsigned("<", cell, top_v), cell, top_v)  # min(cell, size - 2)
        frac = builder.fsub(v, builder.uitofp(cell, _VEC))
        corner.append((cell, frac, builder.fsub(one, frac)))
    (x0, fx, gx), (y0, fy, gy) = corner
    index = builder.add(builder.mul(y0, _splat(builder, ws, _IVEC)), x0)
    return index, [builder.fmul(p, q) for p, q in ((gx, gy), (fx, gy), (gx, fy), (fx, fy))]


def _lanes(builder, vectors, j):
    lane = ir.Constant(ir.IntType(32), j)
    return [builder.extract_element(v, lane) for v in vectors]


def _void(args, n_arrays, emit):
    """(signature, codegen) of an intrinsic returning nothing: emit(builder, pointers, values), where pointers
    are the data pointers of the first n_arrays arguments (arrays) and values the LLVM values of the rest."""
    def codegen(context, builder, signature, llargs):
        pointers = [_data(context, builder, signature.args[k], llargs[k]) for k in range(n_arrays)]
        emit(builder, pointers, llargs[n_arrays:])
        return context.get_dummy_value()

    return types.void(*args), codegen


def _emit_taps8(builder, pointers, values):
    (o_ptr, s_ptr), (oi, b, dx, dy, *weights, acc) = pointers, values
    _put8(builder, o_ptr, oi, _sum8(builder, s_ptr, b, dx, dy, weights), acc)


def _emit_taps2(builder, pointers, values):
    (o_ptr, s_ptr), (oi, b, dy, *weights) = pointers, values
    _put2(builder, o_ptr, oi, _sum2(builder, s_ptr, b, dy, weights))


def _emit_samples8(builder, pointers, values):
    (o_ptr, s_ptr, p_ptr), (i, a, xmax, ymax, xm, ym, ws, acc) = pointers, values
    x, y = _halves(builder, _load(builder, p_ptr, builder.mul(i, _i64(2)), _VEC16))
    index, weights = _corners(builder, x, y, xmax, ymax, xm, ym, ws)
    a8 = _splat(builder, a, _VEC)
    weights = [builder.fmul(w, a8) for w in weights]  # (gx·gy)·a, as the scalar code
    base = builder.mul(index, _splat(builder, _i64(8), _IVEC))
    dy = builder.mul(ws, _i64(8))
    for j in range(8):
        (b,) = _lanes(builder, [base], j)
        s = _sum8(builder, s_ptr, b, _i64(8), dy, _lanes(builder, weights, j))
        _put8(builder, o_ptr, builder.mul(builder.add(i, _i64(j)), _i64(8)), s, acc)


def _emit_steps8(builder, pointers, values):
    (o_ptr, s_ptr, g_ptr, d_ptr), (p, sign, xmax, ymax, xm, ym, ws) = pointers, values
    q = builder.mul(p, _i64(2))
    gx, gy = _halves(builder, _load(builder, g_ptr, q, _VEC16))
    dx, dy = _halves(builder, _load(builder, d_ptr, q, _VEC16))
    sign8 = _splat(builder, sign, _VEC)
    x, y = builder.fadd(gx, builder.fmul(sign8, dx)), builder.fadd(gy, builder.fmul(sign8, dy))
    index, weights = _corners(builder, x, y, xmax, ymax, xm, ym, ws)
    base = builder.mul(index, _splat(builder, _i64(2), _IVEC))
    row = builder.mul(ws, _i64(2))
    for j in range(8):
        (b,) = _lanes(builder, [base], j)
        _put2(builder, o_ptr, builder.add(q, _i64(2 * j)), _sum2(builder, s_ptr, b, row, _lanes(builder, weights, j)))


# Intrinsic arguments: the arrays first (out, then the sources); the taps8/taps2 overloads reorder theirs.
@intrinsic
def _taps8_ir(typingctx, out, src, oi, b, dx, dy, w00, w01, w10, w11, accumulate):
    return _void((out, src, oi, b, dx, dy, w00, w01, w10, w11, accumulate), 2, _emit_taps8)


@intrinsic
def _taps2_ir(typingctx, out, src, oi, b, dy, w00, w01, w10, w11):
    return _void((out, src, oi, b, dy, w00, w01, w10, w11), 2, _emit_taps2)


@intrinsic
def _samples8_ir(typingctx, out, src, pos, i, a, xmax, ymax, xm, ym, ws, accumulate):
    return _void((out, src, pos, i, a, xmax, ymax, xm, ym, ws, accumulate), 3, _emit_samples8)


@intrinsic
def _steps8_ir(typingctx, out, prev, grid, d, p, sign, xmax, ymax, xm, ym, ws):
    return _void((out, prev, grid, d, p, sign, xmax, ymax, xm, ym, ws), 4, _emit_steps8)


def _flat_f32(a) -> bool:
    return isinstance(a, types.Array) and a.dtype == types.float32 and a.ndim == 1


def _f32(*xs) -> bool:
    return all(x == types.float32 for x in xs)


def _offsets(*ints) -> bool:
    return all(isinstance(i, types.Integer) and i.bitwidth == 64 for i in ints)


def _corner_overload(x, y, xmax, ymax, xm, ym):
    return steps.corner  # scalar arithmetic: the plain definition, compiled as it is


# Each overload below accepts only what the kernels pass (flat float32 arrays, float32 weights, 64-bit offsets); any
# other types fall back to the plain-Python definitions compiled by numba.
def _taps8_overload(out, oi, src, b, dx, dy, w00, w01, w10, w11, accumulate):
    if _flat_f32(out) and _flat_f32(src) and _f32(w00, w01, w10, w11) and _offsets(oi, b, dx, dy):
        return lambda out, oi, src, b, dx, dy, w00, w01, w10, w11, accumulate: _taps8_ir(
            out, src, oi, b, dx, dy, w00, w01, w10, w11, accumulate)
    return None


def _taps2_overload(out, oi, src, b, dy, w00, w01, w10, w11):
    if _flat_f32(out) and _flat_f32(src) and _f32(w00, w01, w10, w11) and _offsets(oi, b, dy):
        return lambda out, oi, src, b, dy, w00, w01, w10, w11: _taps2_ir(out, src, oi, b, dy, w00, w01, w10, w11)
    return None


def _samples8_overload(out, src, pos, i, a, xmax, ymax, xm, ym, ws, accumulate):
    if _flat_f32(out) and _flat_f32(src) and _flat_f32(pos) and _f32(a, xmax, ymax) and _offsets(i, xm, ym, ws):
        return lambda out, src, pos, i, a, xmax, ymax, xm, ym, ws, accumulate: _samples8_ir(
            out, src, pos, i, a, xmax, ymax, xm, ym, ws, accumulate)
    return None


def _steps8_overload(out, prev, grid, d, p, sign, xmax, ymax, xm, ym, ws):
    if all(_flat_f32(v) for v in (out, prev, grid, d)) and _f32(sign, xmax, ymax) and _offsets(p, xm, ym, ws):
        return lambda out, prev, grid, d, p, sign, xmax, ymax, xm, ym, ws: _steps8_ir(
            out, prev, grid, d, p, sign, xmax, ymax, xm, ym, ws)
    return None


@functools.cache
def register() -> None:
    """Register the vector forms with numba (once, before the first compile of a kernel that calls the steps)."""
    overload(steps.corner, jit_options={"nogil": True})(_corner_overload)
    overload(steps.taps8, jit_options={"nogil": True})(_taps8_overload)
    overload(steps.taps2, jit_options={"nogil": True})(_taps2_overload)
    overload(steps.samples8, jit_options={"nogil": True})(_samples8_overload)
    overload(steps.steps8, jit_options={"nogil": True})(_steps8_overload)
