"""SIMD form of the bilinear blend's inner step for numba: eight channels per instruction.

Usage: ``import edgeseg.warp.simd`` before the first call of a kernel that uses ``bilinear.taps8`` (numba only).

numba leaves the blend's short channel loop scalar (LLVM cannot prove the output and source arrays apart, and
its SLP vectoriser is off), so this module gives ``taps8`` an implementation written as LLVM vector IR: four
unaligned ``<8 x float>`` loads, four multiplies by splatted weights, three adds and one store (or a load, add
and store when accumulating). The arithmetic is the same, in the same order, as the plain-Python definition in
``bilinear``, so results are bit-identical. LLVM lowers the vector type on any target (AVX on x86, two NEON
registers on Jetson's ARM cores). Importing this module imports numba.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from edgeseg.warp import bilinear

_VEC = ir.VectorType(ir.FloatType(), 8)
_ZERO8 = ir.Constant(ir.VectorType(ir.IntType(32), 8), [0] * 8)
_VEC4 = ir.VectorType(ir.FloatType(), 4)
_VEC2 = ir.VectorType(ir.FloatType(), 2)


def _mask(*lanes):
    return ir.Constant(ir.VectorType(ir.IntType(32), len(lanes)), list(lanes))


@intrinsic
def _taps8_ir(typingctx, out, oi, src, b, dx, dy, w00, w01, w10, w11, accumulate):
    sig = types.void(out, oi, src, b, dx, dy, w00, w01, w10, w11, accumulate)

    def codegen(context, builder, signature, args):
        out_v, oi_v, src_v, b_v, dx_v, dy_v, *weights, acc = args
        o_ptr = context.make_array(signature.args[0])(context, builder, out_v).data
        s_ptr = context.make_array(signature.args[2])(context, builder, src_v).data

        def load(ptr, offset):
            return builder.load(builder.bitcast(builder.gep(ptr, [offset]), _VEC.as_pointer()), align=4)

        def splat(x):
            one = builder.insert_element(ir.Constant(_VEC, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
            return builder.shuffle_vector(one, ir.Constant(_VEC, ir.Undefined), _ZERO8)

        offsets = [b_v, builder.add(b_v, dx_v), builder.add(b_v, dy_v), builder.add(builder.add(b_v, dy_v), dx_v)]
        s = None
        for offset, w in zip(offsets, weights, strict=True):
            term = builder.fmul(load(s_ptr, offset), splat(w))
            s = term if s is None else builder.fadd(s, term)
        o = builder.bitcast(builder.gep(o_ptr, [oi_v]), _VEC.as_pointer())
        with builder.if_else(acc) as (add, store):
            with add:
                builder.store(builder.fadd(builder.load(o, align=4), s), o, align=4)
            with store:
                builder.store(s, o, align=4)
        return context.get_dummy_value()

    return sig, codegen


@overload(bilinear.taps8, jit_options={"nogil": True})
def _taps8_overload(out, oi, src, b, dx, dy, w00, w01, w10, w11, accumulate):
    if not (_flat_f32(out) and _flat_f32(src) and _f32(w00, w01, w10, w11) and _offsets(oi, b, dx, dy)):
        return None  # only the float32 flat arrays and 64-bit offsets of the kernels

    def impl(out, oi, src, b, dx, dy, w00, w01, w10, w11, accumulate):
        _taps8_ir(out, oi, src, b, dx, dy, w00, w01, w10, w11, accumulate)

    return impl


@intrinsic
def _taps2_ir(typingctx, out, oi, src, b, dy, w00, w01, w10, w11):
    sig = types.void(out, oi, src, b, dy, w00, w01, w10, w11)

    def codegen(context, builder, signature, args):
        out_v, oi_v, src_v, b_v, dy_v, w00_v, w01_v, w10_v, w11_v = args
        o_ptr = context.make_array(signature.args[0])(context, builder, out_v).data
        s_ptr = context.make_array(signature.args[2])(context, builder, src_v).data

        def load4(offset):
            return builder.load(builder.bitcast(builder.gep(s_ptr, [offset]), _VEC4.as_pointer()), align=4)

        def pair(wa, wb):  # <wa, wa, wb, wb>
            v = builder.insert_element(ir.Constant(_VEC4, ir.Undefined), wa, ir.Constant(ir.IntType(32), 0))
            v = builder.insert_element(v, wb, ir.Constant(ir.IntType(32), 2))
            return builder.shuffle_vector(v, ir.Constant(_VEC4, ir.Undefined), _mask(0, 0, 2, 2))

        top = builder.fmul(load4(b_v), pair(w00_v, w01_v))  # taps (x0, y0), (x0 + 1, y0): both channels
        bottom = builder.fmul(load4(builder.add(b_v, dy_v)), pair(w10_v, w11_v))
        undef = ir.Constant(_VEC4, ir.Undefined)
        s = builder.fadd(builder.shuffle_vector(top, undef, _mask(0, 1)), builder.shuffle_vector(top, undef, _mask(2, 3)))
        s = builder.fadd(s, builder.shuffle_vector(bottom, undef, _mask(0, 1)))
        s = builder.fadd(s, builder.shuffle_vector(bottom, undef, _mask(2, 3)))
        builder.store(s, builder.bitcast(builder.gep(o_ptr, [oi_v]), _VEC2.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen


@overload(bilinear.taps2, jit_options={"nogil": True})
def _taps2_overload(out, oi, src, b, dy, w00, w01, w10, w11):
    if not (_flat_f32(out) and _flat_f32(src) and _f32(w00, w01, w10, w11) and _offsets(oi, b, dy)):
        return None

    def impl(out, oi, src, b, dy, w00, w01, w10, w11):
        _taps2_ir(out, oi, src, b, dy, w00, w01, w10, w11)

    return impl


def _flat_f32(a) -> bool:
    return isinstance(a, types.Array) and a.dtype == types.float32 and a.ndim == 1


def _f32(*ws) -> bool:
    return all(w == types.float32 for w in ws)


def _offsets(*ints) -> bool:
    return all(isinstance(i, types.Integer) and i.bitwidth == 64 for i in ints)
