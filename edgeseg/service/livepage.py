"""The live view's HTML page: one tile per camera (MJPEG preview, health, class and zone fractions), refreshed
once a second by a little inline script from /cameras/NAME/status.

Usage: ``html = render_page(["gate", "yard"], {"gate": gate_status, "yard": yard_status}, token=None)``

Geometry is fixed (the tests find the previews in a screenshot): a HEADER_PX header, then tiles TILE_PX wide
in rows, GAP_PX apart and from the edges, each starting with its preview box of TILE_PX × PREVIEW_PX.
"""

from __future__ import annotations

import html
import json
from urllib.parse import quote

HEADER_PX, GAP_PX, TILE_PX, PREVIEW_PX = 44, 12, 560, 315

_CSS = f"""
body{{margin:0;background:#15171a;color:#e6e6e6;font:14px system-ui,sans-serif}}
header{{height:{HEADER_PX}px;box-sizing:border-box;padding:10px {GAP_PX}px;background:#22262b;overflow:hidden}}
header b{{font-size:18px}} main{{display:flex;flex-wrap:wrap;gap:{GAP_PX}px;padding:{GAP_PX}px}}
.tile{{width:{TILE_PX}px;background:#22262b}} .tile.bad{{outline:3px solid #d33}}
.tile img{{display:block;width:{TILE_PX}px;height:{PREVIEW_PX}px;object-fit:contain;background:#000}}
.info{{padding:6px 10px}} h2{{margin:0 0 4px;font-size:16px}} h4{{margin:6px 0 2px;font-size:13px;color:#aab}}
.health{{color:#9c9;margin-bottom:4px}} .tile.bad .health{{color:#f77}}
.row{{display:flex;align-items:center;gap:6px;height:17px}} .row span{{width:110px;overflow:hidden}}
.bar{{height:10px;background:#4a8fd6}} .row i{{font-style:normal;color:#aab;width:60px}}
"""

_JS = """
function q(u){return TOKEN ? u + (u.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(TOKEN) : u}
function bars(el, shares, top){
  el.replaceChildren();
  for (const [name, v] of Object.entries(shares || {}).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    const row = document.createElement('div'); row.className = 'row';
    const label = document.createElement('span'); label.textContent = name;
    const bar = document.createElement('div'); bar.className = 'bar'; bar.style.width = Math.round(v * 300) + 'px';
    const pct = document.createElement('i'); pct.textContent = (100 * v).toFixed(1) + ' %';
    row.append(label, bar, pct); el.append(row);
  }
}
function show(name, s){
  const t = document.querySelector('.tile[data-cam="' + name + '"]'), h = s.health;
  t.classList.toggle('bad', !!h && h.healthy === false);
  t.querySelector('.health').textContent = h ? [h.state, h.frames + ' frames', h.reconnects + ' reconnects',
    h.dropped + ' dropped'].concat(h.last_error ? ['error: ' + h.last_error] : []).join(' · ') : 'no health yet';
  bars(t.querySelector('.classes'), s.class_fraction, 6);
  const zones = t.querySelector('.zones'); zones.replaceChildren();
  for (const [zone, shares] of Object.entries(s.zones || {})) {
    const head = document.createElement('h4'); head.textContent = 'zone ' + zone;
    const body = document.createElement('div'); bars(body, shares, 3); zones.append(head, body);
  }
}
for (const n of CAMERAS) show(n, INITIAL[n] || {});
for (const img of document.querySelectorAll('.tile img'))
  img.onerror = () => setTimeout(() => { img.src = img.dataset.src + (img.dataset.src.includes('?') ? '&' : '?')
    + 'retry=' + Date.now(); }, 2000);
async function poll(){
  for (const n of CAMERAS) {
    try { const r = await fetch(q('/cameras/' + encodeURIComponent(n) + '/status'), {cache: 'no-store'});
          if (r.ok) show(n, await r.json()); } catch (e) {}
  }
}
setInterval(poll, 1000);
"""


def _js_value(value) -> str:
    """JSON that is safe inside a <script> element."""
    return json.dumps(value).replace("</", "<\\/")


def render_page(cameras: list[str], statuses: dict, *, token: str | None = None) -> str:
    """The whole page; statuses: {camera: its /status JSON}, shown before the first refresh."""
    suffix = f"?token={quote(token, safe='')}" if token else ""
    tiles = []
    for name in cameras:
        src = html.escape(f"/cameras/{quote(name, safe='')}/preview{suffix}")
        tiles.append(f'<section class="tile" data-cam="{html.escape(name)}"><img src="{src}" data-src="{src}" '
                     f'alt="{html.escape(name)} preview"><div class="info"><h2>{html.escape(name)}</h2>'
                     '<div class="health"></div><div class="classes"></div><div class="zones"></div></div></section>')
    script = (f"const TOKEN = {_js_value(token)}, CAMERAS = {_js_value(list(cameras))}, "
              f"INITIAL = {_js_value(statuses)};\n{_JS}")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>edgeseg live view</title>'
            f'<meta name="viewport" content="width=device-width"><style>{_CSS}</style></head><body>'
            f'<header><b>edgeseg</b> live view · {len(cameras)} cameras · <a href="/metrics" '
            f'style="color:#8bd">metrics</a></header><main>{"".join(tiles)}</main>'
            f"<script>{script}</script></body></html>")
