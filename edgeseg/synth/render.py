"""Ray-cast one frame of a Scene: RGB and per-pixel class labels from the same rays (exactly aligned).

Usage: ``r = Renderer(scene, size=(360, 480)); rgb, labels = r.render(pose, tau, rng)``

One ray per pixel centre (no anti-aliasing of silhouettes, so labels match pixels exactly); textures fade
their fine octaves with the pixel footprint so distant surfaces do not shimmer. Background (ground, facades,
tree line, sky) is intersected analytically for all pixels; agents' boxes/spheres only inside their projected
screen rectangle. Lighting: ambient + sun, moving cloud shadows, slow global exposure drift, Gaussian noise.
"""

from __future__ import annotations

import numpy as np

from edgeseg.synth import scene as S

_TILE_N = 256


def _tile() -> np.ndarray:
    global _TILE
    if _TILE is None:
        _TILE = np.random.default_rng(20181).random(_TILE_N * _TILE_N).astype(np.float32)
    return _TILE


_TILE = None


def vnoise(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smooth value noise in [0, 1] with unit cell size, from a fixed 256×256 random tile."""
    t = _tile()
    fu, fv = np.floor(u), np.floor(v)
    su, sv = (u - fu).astype(np.float32), (v - fv).astype(np.float32)
    su = su * su * (3 - 2 * su)
    sv = sv * sv * (3 - 2 * sv)
    iu = fu.astype(np.int64) & (_TILE_N - 1)
    iv = (fv.astype(np.int64) & (_TILE_N - 1)) * _TILE_N
    iu1 = (iu + 1) & (_TILE_N - 1)
    iv1 = (iv + _TILE_N) & (_TILE_N * _TILE_N - 1)
    a = t[iv + iu] + su * (t[iv + iu1] - t[iv + iu])
    b = t[iv1 + iu] + su * (t[iv1 + iu1] - t[iv1 + iu])
    return a + sv * (b - a)


def fbm(u, v, footprint, octaves: int = 3) -> np.ndarray:
    """Fractal noise in ~[0, 1]; footprint = pixel size in noise cells (fine octaves fade to their mean)."""
    out = np.zeros(np.shape(u), np.float32)
    amp, total, scale = 0.5, 0.0, 1.0
    for k in range(octaves):
        w = np.clip(1.5 - footprint * scale, 0, 1).astype(np.float32)
        out += amp * (0.5 + w * (vnoise(u * scale + 17.3 * k, v * scale - 9.1 * k) - 0.5))
        total += amp
        amp *= 0.5
        scale *= 2.0
    return out / total


def _stripe(coord, center, width, footprint):
    """Box-filtered coverage of a stripe |coord - center| < width/2 (anti-aliased by the footprint)."""
    fp = np.maximum(footprint, 1e-3)
    return np.clip((width / 2 - np.abs(coord - center)) / fp + 0.5, 0, 1) * np.minimum(1, width / fp)


def _periodic(coord, period, lo, hi, footprint):
    """Coverage of the band lo < (coord / period mod 1) < hi, fading to its mean when the footprint is big."""
    f = np.mod(coord / period, 1.0)
    inside = ((f > lo) & (f < hi)).astype(np.float32)
    w = np.clip(1.5 - 3 * footprint / period, 0, 1)
    return inside * w + (hi - lo) * (1 - w)


class Renderer:
    """Renders frames of one Scene at a fixed size (H, W); horizontal field of view ``fov`` degrees."""

    CULL = 140.0

    def __init__(self, scene: S.Scene, *, size: tuple[int, int], fov: float = 70.0):
        self.scene = scene
        self.h, self.w = size
        self.f = (self.w / 2) / np.tan(np.radians(fov) / 2)
        xs = (np.arange(self.w) - self.w / 2 + 0.5) / self.f
        ys = -(np.arange(self.h) - self.h / 2 + 0.5) / self.f
        gx, gy = np.meshgrid(xs, ys)
        self.cam_dirs = np.stack([gx, gy, np.ones_like(gx)]).reshape(3, -1)  # (3, P), z = 1
        self.max_dn = float(np.sqrt((self.cam_dirs ** 2).sum(0)).max())  # longest ray direction (rotation-free)

    def render(self, pose: S.Pose, tau: float, rng: np.random.Generator, *, gain: float = 1.0,
               noise: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
        """(rgb H×W×3 uint8, labels H×W uint8) at scene time tau."""
        sc, h, w = self.scene, self.h, self.w
        o = pose.position
        d = (pose.rotation @ self.cam_dirs).astype(np.float64)  # world ray directions, (3, P)
        dn = np.sqrt((d * d).sum(0))
        p = h * w
        depth = np.full(p, np.inf)
        label = np.zeros(p, np.uint8)
        kind = np.zeros(p, np.int8)  # 0 sky, 1 ground, 2 facade, 3 tree line, 4 object
        color = np.zeros((p, 3), np.float32)

        # ground plane y = 0
        g = d[1] < -1e-9
        tg = np.where(g, o[1] / np.where(g, -d[1], 1.0), np.inf)
        depth = tg
        kind[g] = 1
        # facades x = ±FACADE_X and the tree line behind gaps
        seg_of = {}
        for side in (-1, 1):
            fac = sc.facades[side]
            toward = d[0] * side > 1e-9
            t = np.where(toward, (side * S.FACADE_X - o[0]) / np.where(toward, d[0], 1.0), np.inf)
            zh = o[2] + t * d[2]
            yh = o[1] + t * d[1]
            seg = np.clip(np.searchsorted(fac["z1"], zh), 0, len(fac["z1"]) - 1)
            hit = toward & (yh >= 0) & (yh < fac["height"][seg]) & (t < depth)
            depth = np.where(hit, t, depth)
            kind[hit] = 2
            seg_of[side] = (hit, seg)
            tt = np.where(toward, (side * S.TREELINE_X - o[0]) / np.where(toward, d[0], 1.0), np.inf)
            zt = np.where(toward, o[2] + tt * d[2], 0.0)
            yt = np.where(toward, o[1] + tt * d[1], -1.0)
            top = 6.0 + 4.0 * vnoise(zt / 4.0 + 50 * side, np.full_like(zt, 3.3 + side))
            hit = toward & (yt >= 0) & (yt < top) & (tt < depth)
            depth = np.where(hit, tt, depth)
            kind[hit] = 3

        # agents
        pos = sc.agents.positions(tau)[sc.prims.agent] + sc.prims.offset
        rel = (pos - o) @ pose.rotation  # camera coordinates of centres
        reach = np.where(sc.prims.kind[:, None] == 1, sc.prims.half[:, :1], sc.prims.half).max(1) * 1.8
        # contract: agents beyond CULL metres are not drawn (the haze hides them; labels agree with pixels)
        near = (rel[:, 2] > -reach) & (rel[:, 2] < self.CULL) & (np.abs(rel[:, 0]) < rel[:, 2] * 0.8 + reach) \
            & (np.abs(rel[:, 1]) < rel[:, 2] * 0.8 + reach)
        for i in np.nonzero(near)[0]:
            self._primitive(i, pos[i], o, d, pose, depth, label, kind, color, tau)

        hitp = o[:, None] + d * np.where(np.isfinite(depth), depth, 0)  # (3, P) world hit points
        foot = depth * dn / self.f  # metres per pixel across the ray
        self._shade_ground(kind == 1, hitp, foot, depth, dn, label, color)
        for side in (-1, 1):
            m, seg = seg_of[side]
            m = m & (kind == 2)
            self._shade_facade(m, side, seg[m], hitp, foot, label, color)
        m = kind == 3
        label[m] = S.VEGETATION
        idx = np.nonzero(m)[0]
        n = fbm(hitp[2, idx] * 0.8, hitp[1, idx] * 0.8, foot[idx] * 0.8)
        color[idx] = np.array([0.18, 0.36, 0.12], np.float32) * (0.6 + 0.8 * n)[:, None] * self._sun(
            np.array([-np.sign(hitp[0, idx]), 0 * idx, 0 * idx]))[:, None]
        self._shade_sky(kind == 0, d, dn, label, color, tau)

        solid = kind != 0
        if solid.any():  # moving cloud shadows on everything but the sky
            cs = vnoise(hitp[0, solid] / 35.0 + tau * 0.35, hitp[2, solid] / 35.0 + tau * 0.2)
            color[solid] *= (0.72 + 0.28 * np.clip(cs * 2 - 0.3, 0, 1))[:, None]
        haze = (1 - np.exp(-np.where(solid, depth * dn, 0) / 220.0)).astype(np.float32)[:, None]
        color = color * (1 - haze) + sc.sky_horizon.astype(np.float32) * haze
        img = color * (255.0 * sc.exposure * gain)
        img = img.reshape(h, w, 3)
        if noise > 0:
            img += rng.standard_normal(img.shape, dtype=np.float32) * noise
        return np.clip(img + 0.5, 0, 255).astype(np.uint8), label.reshape(h, w)

    def _sun(self, normal: np.ndarray) -> np.ndarray:
        s = self.scene.sun
        return (0.55 + 0.6 * np.clip(normal[0] * s[0] + normal[1] * s[1] + normal[2] * s[2], 0, 1)).astype(np.float32)

    def _primitive(self, i, center, o, d, pose, depth, label, kind, color, tau) -> None:
        pr, h, w = self.scene.prims, self.h, self.w
        half = pr.half[i]
        sphere = pr.kind[i] == 1
        ext = np.full(3, half[0]) if sphere else half
        corners = center + ext * np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        cam = (corners - o) @ pose.rotation
        if (cam[:, 2] <= 0.05).all():
            return
        if (cam[:, 2] <= 0.05).any():
            x0, x1, y0, y1 = 0, w, 0, h
        else:
            u = self.f * cam[:, 0] / cam[:, 2] + w / 2 - 0.5
            v = -self.f * cam[:, 1] / cam[:, 2] + h / 2 - 0.5
            x0, x1 = max(int(np.floor(u.min())), 0), min(int(np.ceil(u.max())) + 1, w)
            y0, y1 = max(int(np.floor(v.min())), 0), min(int(np.ceil(v.max())) + 1, h)
            if x0 >= x1 or y0 >= y1:
                return
        rows = np.arange(y0, y1)[:, None] * w + np.arange(x0, x1)[None, :]
        idx = rows.ravel()
        oc = o - center
        # occlusion cull (exact): |d| >= 1, so no ray of the window reaches the primitive before t_min
        t_min = (np.sqrt(oc @ oc) - np.sqrt(ext @ ext)) / self.max_dn
        if t_min > 0 and t_min >= depth[idx].max():
            return
        dd = d[:, idx]
        if sphere:
            a = (dd * dd).sum(0)
            b = (dd * oc[:, None]).sum(0)
            disc = b * b - a * (oc @ oc - half[0] ** 2)
            ok = disc >= 0
            t = np.where(ok, (-b - np.sqrt(np.where(ok, disc, 0))) / a, np.inf)
            hit = ok & (t > 0) & (t < depth[idx])
            if not hit.any():
                return
            idx, t = idx[hit], t[hit]
            pts = o[:, None] + d[:, idx] * t
            normal = (pts - center[:, None]) / half[0]
            local = pts - center[:, None]
            uu, vv = local[0] + local[2], local[1]
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = 1.0 / np.where(np.abs(dd) < 1e-12, 1e-12, dd)
                t1 = (-ext[:, None] - oc[:, None]) * inv
                t2 = (ext[:, None] - oc[:, None]) * inv
            tmin3 = np.minimum(t1, t2)
            tmin, tmax = tmin3.max(0), np.maximum(t1, t2).min(0)
            hit = (tmax >= tmin) & (tmin > 0) & (tmin < depth[idx])
            if not hit.any():
                return
            axis = tmin3.argmax(0)[hit]
            idx, t = idx[hit], tmin[hit]
            pts = o[:, None] + d[:, idx] * t
            local = pts - center[:, None]
            normal = np.zeros_like(local)
            normal[axis, np.arange(len(idx))] = np.sign(local[axis, np.arange(len(idx))])
            uu = np.where(axis == 0, local[2], local[0])
            vv = np.where(axis == 1, local[2], local[1])
        depth[idx] = t
        label[idx] = pr.label[i]
        kind[idx] = 4
        foot = t * np.sqrt((d[:, idx] ** 2).sum(0)) / self.f
        color[idx] = self._shade_primitive(i, uu, vv, foot, local, normal) * self._sun(normal)[:, None]

    def _shade_primitive(self, i, uu, vv, foot, local, normal) -> np.ndarray:
        """The surface colours of primitive i's hit points (its style's texture), before sunlight."""
        pr = self.scene.prims
        half = pr.half[i]
        style, salt = pr.style[i], pr.salt[i]
        base = pr.color[i].astype(np.float32)
        tex = fbm(uu * 6 + salt, vv * 6 - salt, foot * 6, 2)
        if style == S.CROWN:
            tex = fbm(uu * 3 + salt, vv * 3 + salt, foot * 3, 3)
            shade = base * (0.45 + 1.1 * tex)[:, None]
        elif style == S.CAR_CABIN:  # glass band on the cabin sides, roof keeps the body colour
            glass = (np.abs(normal[1]) < 0.5).astype(np.float32)
            glass_col = np.array([0.12, 0.14, 0.18], np.float32) * (0.7 + 0.8 * tex)[:, None]
            shade = glass[:, None] * glass_col + (1 - glass[:, None]) * base * (0.85 + 0.3 * tex)[:, None]
        elif style == S.CAR_BODY:  # dark wheel band at the bottom, bright lamps at the ends
            low = np.clip((-local[1] - half[1] * 0.35) / 0.05, 0, 1).astype(np.float32)
            shade = base * (0.85 + 0.3 * tex)[:, None] * (1 - 0.85 * low)[:, None]
            lamp = (np.abs(normal[2]) > 0.5) & (np.abs(np.abs(local[0]) - half[0] * 0.75) < 0.15) & (local[1] > 0.05)
            shade[lamp] = np.array([0.95, 0.85, 0.6], np.float32)
        elif style == S.SIGN:
            shade = base * (0.9 + 0.2 * tex)[:, None]
            rim = _stripe(np.abs(uu), half[0] * 0.85, 0.06, foot)
            shade = shade * (1 - rim)[:, None] + rim[:, None] * 0.95
        else:
            shade = base * (0.75 + 0.5 * tex)[:, None]
        return shade

    def _shade_ground(self, m, hitp, foot, depth, dn, label, color) -> None:
        idx = np.nonzero(m)[0]
        x, z = hitp[0, idx], hitp[2, idx]
        fx = foot[idx]
        fz = fx * depth[idx] * dn[idx] / max(S.CAMERA_HEIGHT, 0.5)  # footprint along the ground
        fz = np.minimum(fz, 50.0)
        ax = np.abs(x)
        road = ax < S.ROAD_HALF
        side = (ax >= S.ROAD_HALF) & (ax < S.FACADE_X)
        lab = np.where(road, S.ROAD, np.where(side, S.SIDEWALK, S.VEGETATION)).astype(np.uint8)
        label[idx] = lab
        fp = np.maximum(fx, fz)
        col = np.empty((len(idx), 3), np.float32)
        # asphalt with markings: solid centre line, dashed lane lines at ±3.5, parking line at ±7
        n = fbm(x * 3.0, z * 3.0, fp * 3.0, 3)
        asphalt = self.scene.road_tone * (0.7 + 0.6 * n) + 0.05 * (vnoise(x * 0.3, z * 0.3) - 0.5)
        mark = _stripe(x, 0.0, 0.15, fx) * np.minimum(1, 0.2 / np.maximum(fz, 1e-3) + 0.2)
        dash = _periodic(z, 9.0, 0.0, 0.35, fz)
        for lx in (-3.5, 3.5):
            mark = np.maximum(mark, _stripe(x, lx, 0.13, fx) * dash)
        for lx in (-6.0, 6.0):
            mark = np.maximum(mark, _stripe(x, lx, 0.1, fx) * 0.8)
        grey = asphalt * (1 - mark) + 0.85 * mark
        col[:] = grey[:, None]
        # sidewalk: tiles with grout lines, curb strip
        s = np.nonzero(side)[0]
        if len(s):
            xs_, zs_ = ax[s], z[s]
            tile = vnoise(np.floor(xs_ / 0.6) * 7.1, np.floor(zs_ / 0.6) * 3.3)
            grout = np.maximum(1 - _periodic(xs_, 0.6, 0.06, 1.0, fp[s]), 1 - _periodic(zs_, 0.6, 0.06, 1.0, fp[s]))
            tone = 0.55 + 0.12 * tile + 0.1 * (fbm(xs_ * 8, zs_ * 8, fp[s] * 8, 2) - 0.5)
            tone = tone * (1 - 0.35 * grout)
            curb = ax[s] < S.ROAD_HALF + 0.25
            tone = np.where(curb, 0.72 + 0.1 * tile, tone)
            col[s] = tone[:, None] * np.array([1.0, 0.97, 0.92], np.float32)
        v = np.nonzero(~road & ~side)[0]
        if len(v):
            gn = fbm(x[v] * 2, z[v] * 2, fp[v] * 2, 3)
            col[v] = np.array([0.22, 0.42, 0.14], np.float32) * (0.6 + 0.8 * gn)[:, None]
        color[idx] = col * self._sun(np.array([0.0, 1.0, 0.0]))

    def _shade_facade(self, m, side, seg, hitp, foot, label, color) -> None:
        idx = np.nonzero(m)[0]
        if not len(idx):
            return
        fac = self.scene.facades[side]
        label[idx] = S.BUILDING
        y, z = hitp[1, idx], hitp[2, idx]
        fp = foot[idx]
        salt = fac["salt"][seg]
        base = fac["color"][seg].astype(np.float32)
        brick = fbm(z * 4 + salt, y * 4, fp * 4, 3)
        zl = z - fac["z0"][seg]
        bay, floor = fac["bay"][seg], fac["floor"][seg]
        win = _periodic(zl, bay, 0.22, 0.78, fp) * _periodic(y, floor, 0.3, 0.8, fp)
        win = win * (y > 3.0)
        shop = _periodic(zl, bay * 2, 0.1, 0.9, fp) * ((y > 0.4) & (y < 2.6))
        win = np.maximum(win, shop)
        wid = vnoise(np.floor(zl / bay) * 3.7 + salt, np.floor(y / floor) * 5.3)
        glass = np.array([0.15, 0.18, 0.24], np.float32)[None, :] * (0.6 + 1.4 * wid)[:, None]
        wall = base * (0.75 + 0.5 * brick)[:, None]
        # edge of the building: a darker vertical strip at the segment boundaries
        edge = np.minimum(_stripe(zl, 0.0, 0.5, fp), 1) + _stripe(fac["z1"][seg] - z, 0.0, 0.5, fp)
        wall = wall * (1 - 0.35 * np.clip(edge, 0, 1))[:, None]
        col = wall * (1 - win)[:, None] + glass * win[:, None]
        color[idx] = col * self._sun(np.array([-float(side), 0.0, 0.0]))

    def _shade_sky(self, m, d, dn, label, color, tau) -> None:
        idx = np.nonzero(m)[0]
        if not len(idx):
            return
        sc = self.scene
        elev = np.clip(d[1, idx] / dn[idx], -0.2, 1)
        az = np.arctan2(d[0, idx], d[2, idx])
        t = np.clip(elev * 2.5, 0, 1).astype(np.float32)[:, None]
        base = sc.sky_horizon * (1 - t) + sc.sky_top * t
        cloud = fbm(az * 9 + tau * 0.02, elev * 18, np.full(len(idx), 9 / self.f * 1.0), 3)
        c = np.clip((cloud - 0.45) * 2.5, 0, 1)[:, None]
        color[idx] = (base * (1 - c) + 0.95 * c).astype(np.float32)
        label[idx] = S.SKY
