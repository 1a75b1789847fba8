"""A minimal RTSP server for tests: serves an H.264 file once over RTP/TCP interleaved (RFC 2326/6184).

Usage::

    with RtspServer(h264_path, fps=50) as url:   # rtsp://127.0.0.1:<port>/clip
        src = open_source(url)

Also ``RtspServer.silent()`` accepts connections and never answers (for timeout tests).
Only what FFmpeg's RTSP client needs: OPTIONS, DESCRIBE, SETUP (TCP interleaved), PLAY, TEARDOWN.
"""

from __future__ import annotations

import base64
import socket
import struct
import threading
import time

import av


def _nals(data: bytes) -> list[bytes]:
    out, i, n = [], 0, len(data)
    starts = []
    while i < n - 3:
        if data[i] == 0 and data[i + 1] == 0 and (data[i + 2] == 1 or (data[i + 2] == 0 and data[i + 3] == 1)):
            sc = 3 if data[i + 2] == 1 else 4
            starts.append((i, i + sc))
            i += sc
        else:
            i += 1
    for k, (_, begin) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else n
        out.append(data[begin:end].rstrip(b"\x00") if k + 1 < len(starts) else data[begin:end])
    return [x for x in out if x]


def access_units(path) -> list[tuple[float, list[bytes]]]:
    """The file's frames (decode order) as (pts seconds, NAL units), via PyAV's Annex B bitstream filter."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        bsf = None
        if c.format.name != "h264":
            bsf = av.BitStreamFilterContext("h264_mp4toannexb", s)
        aus = []
        for packet in c.demux(s):
            if packet.size == 0:
                continue
            t = float(packet.pts * packet.time_base) if packet.pts is not None else len(aus) / 25
            for p in bsf.filter(packet) if bsf else [packet]:
                aus.append((t, _nals(bytes(p))))
    return aus


class RtspServer:
    """Serves one client at a time on 127.0.0.1; the stream ends (connection closed) after the last frame."""

    def __init__(self, path=None, *, fps: float = 50.0, answer: bool = True):
        self.aus = access_units(path) if path is not None else []
        self.fps, self.answer = fps, answer
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.url = f"rtsp://127.0.0.1:{self._sock.getsockname()[1]}/clip"
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @classmethod
    def silent(cls) -> RtspServer:
        return cls(None, answer=False)

    def __enter__(self) -> str:
        self._thread.start()
        return self.url

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            if self.answer:
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _sdp(self) -> str:
        first = self.aus[0][1]
        sps = next(n for n in first if n[0] & 0x1F == 7)
        pps = next(n for n in first if n[0] & 0x1F == 8)
        sprop = base64.b64encode(sps).decode() + "," + base64.b64encode(pps).decode()
        return ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=edgeseg test\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
                "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                f"a=fmtp:96 packetization-mode=1;profile-level-id={sps[1:4].hex()};sprop-parameter-sets={sprop}\r\n"
                "a=control:track0\r\n")

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    if buf[:1] == b"$" and len(buf) >= 4:  # interleaved RTCP from the client: skip it
                        size = struct.unpack(">H", buf[2:4])[0]
                        if len(buf) < 4 + size:
                            buf += conn.recv(65536)
                            continue
                        buf = buf[4 + size:]
                        continue
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode(errors="replace").split("\r\n")
                method = lines[0].split(" ")[0]
                cseq = next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("cseq")), "0")
                hdr, body = [f"CSeq: {cseq}"], ""
                if method == "OPTIONS":
                    hdr.append("Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER")
                elif method == "DESCRIBE":
                    body = self._sdp()
                    hdr += [f"Content-Base: {self.url}/", "Content-Type: application/sdp"]
                elif method == "SETUP":
                    hdr += ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1", "Session: 12345678"]
                elif method == "PLAY":
                    hdr += ["Session: 12345678", "Range: npt=0.000-"]
                if body:
                    hdr.append(f"Content-Length: {len(body)}")
                conn.sendall(("RTSP/1.0 200 OK\r\n" + "\r\n".join(hdr) + "\r\n\r\n" + body).encode())
                if method == "PLAY":
                    self._stream(conn)
                    return
                if method == "TEARDOWN":
                    return
        except OSError:
            return
        finally:
            conn.close()

    def _stream(self, conn: socket.socket) -> None:
        seq, ssrc = 0, 0x1234ABCD
        for t, au in self.aus:
            if self._stop.is_set():
                return
            ts = int(t * 90000) & 0xFFFFFFFF  # presentation time, 90 kHz
            nals = [n for n in au if n[0] & 0x1F not in (9,)]  # drop access unit delimiters
            payloads = []
            for n in nals:
                if len(n) <= 1400:
                    payloads.append(n)
                    continue
                fu_ind = (n[0] & 0xE0) | 28
                rest = n[1:]
                for k in range(0, len(rest), 1398):
                    part = rest[k:k + 1398]
                    flags = (0x80 if k == 0 else 0) | (0x40 if k + 1398 >= len(rest) else 0)
                    payloads.append(bytes([fu_ind, flags | (n[0] & 0x1F)]) + part)
            for j, p in enumerate(payloads):
                marker = 0x80 if j == len(payloads) - 1 else 0
                rtp = struct.pack(">BBHII", 0x80, marker | 96, seq & 0xFFFF, ts, ssrc) + p
                seq += 1
                conn.sendall(b"$\x00" + struct.pack(">H", len(rtp)) + rtp)
            time.sleep(1 / self.fps)
