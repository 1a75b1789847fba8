"""Reads what the motion rule needs from an H.264 sequence parameter set: the reference-frame count.

Usage: ``max_ref_frames(codec_context.extradata or first_packet_bytes)`` → 4, or None when unknown.
"""

from __future__ import annotations


class _Bits:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]  # IndexError past the end: the caller gives up
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _unescape(nal: bytes) -> bytes:
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def _sps_nals(data: bytes):
    if len(data) > 7 and data[0] == 1:  # avcC (mp4/mkv extradata)
        n, pos = data[5] & 0x1F, 6
        for _ in range(n):
            size = int.from_bytes(data[pos:pos + 2], "big")
            yield data[pos + 2:pos + 2 + size]
            pos += 2 + size
        return
    for part in data.split(b"\x00\x00\x01"):  # Annex B
        if part and part[0] & 0x1F == 7:
            yield part.rstrip(b"\x00")


def _max_refs(sps: bytes) -> int:
    b = _Bits(_unescape(sps[1:]))
    profile = b.u(8)
    b.u(16)  # constraint flags, level
    b.ue()  # sps id
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = b.ue()
        if chroma == 3:
            b.u(1)
        b.ue()
        b.ue()
        b.u(1)
        if b.u(1):  # scaling matrices
            for i in range(12 if chroma == 3 else 8):
                if b.u(1):
                    last = nxt = 8
                    for _ in range(16 if i < 6 else 64):
                        if nxt:
                            nxt = (last + b.se() + 256) % 256
                        last = nxt or last
    b.ue()  # log2_max_frame_num
    poc = b.ue()
    if poc == 0:
        b.ue()
    elif poc == 1:
        b.u(1)
        b.se()
        b.se()
        for _ in range(b.ue()):
            b.se()
    return b.ue()


def max_ref_frames(data: bytes | None) -> int | None:
    """max_num_ref_frames of the first SPS in avcC extradata or an Annex B buffer; None when not found."""
    if not data:
        return None
    for sps in _sps_nals(bytes(data)):
        try:
            return max(1, _max_refs(sps))
        except (IndexError, ValueError):
            return None
    return None
