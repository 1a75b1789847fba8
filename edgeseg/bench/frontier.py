"""The accuracy–speed frontier of a bench report: the fastest row that stays within each accuracy budget.

Usage: ``best = frontier(report["rows"])`` → one dict per budget, e.g. ``{"avg_drop": 1.0, "min_drop": 2.0,
"mode": "interp", "interval": 6, "fusion": "linear", "keyframes": "fixed", "correct": None, "guide": False,
"speedup": 4.5}``; ``frontiers(report["rows"])`` → {"frontier": …, "frontier_guided": …}

A row meets a budget (a, m) when its avg mIoU is at most a points and its min mIoU at most m points below
the reference row's: frame mode unguided (the model's own labels on every frame) by default, or frame mode
guided (the best the product does on every frame) for "frontier_guided". The reference itself always meets
every budget, so each budget has an answer. Speedups are the rows' own: against frame mode unguided's fps.
"""

from __future__ import annotations

BUDGETS = ((0.5, 1.0), (1.0, 2.0), (2.0, 4.0))  # (avg drop, min drop) in mIoU points
_EPS = 1e-9  # drops are compared after the report's rounding to 0.001


# a report's frontier keys → what they are measured against (as printed)
FRONTIERS = {"frontier": "frame mode (the model's own labels)",
             "frontier_guided": "frame mode guided (the best on every frame)"}


def frontier(rows: list[dict], budgets=BUDGETS, *, reference: dict | None = None) -> list[dict]:
    """The fastest row (highest speedup) within each (avg drop, min drop) budget of `reference`; ties go to the
    row listed first. rows: a bench report's rows; reference: one of them (default: frame mode unguided)."""
    frames = [r for r in rows if r["mode"] == "frame"]
    frame = reference or next((r for r in frames if not r.get("guide")), frames[0] if frames else None)
    if frame is None:
        raise ValueError("the frontier needs frame mode's row (the accuracy and speed reference)")
    out = []
    for avg_drop, min_drop in budgets:
        ok = [r for r in rows if frame["miou_avg"] - r["miou_avg"] <= avg_drop + _EPS
              and frame["miou_min"] - r["miou_min"] <= min_drop + _EPS]
        best = max(ok, key=lambda r: r["speedup"])  # max keeps the first of equals
        out.append({"avg_drop": avg_drop, "min_drop": min_drop, "mode": best["mode"], "interval": best["interval"],
                    "fusion": best.get("fusion", "linear"), "keyframes": best.get("keyframes", "fixed"),
                    "correct": best.get("correct"), "guide": best.get("guide", False), "speedup": best["speedup"],
                    "miou_avg": best["miou_avg"], "miou_min": best["miou_min"]})
    return out


def row_name(row: dict) -> str:
    """A row's (or frontier point's) label: "interp", "interp photometric guided", "prop adaptive correct=0.25"…"""
    fusion, keyframes, correct = row.get("fusion", "linear"), row.get("keyframes", "fixed"), row.get("correct")
    return " ".join([row["mode"]] + [fusion] * (fusion != "linear") + ["adaptive"] * (keyframes == "adaptive")
                    + ["guided"] * bool(row.get("guide")) + ([f"correct={correct:g}"] if correct else []))


def frontiers(rows: list[dict]) -> dict[str, list[dict]]:
    """{"frontier": against frame mode unguided, "frontier_guided": against frame mode guided (only when the
    rows have that row)}."""
    out = {"frontier": frontier(rows)}
    guided = next((r for r in rows if r["mode"] == "frame" and r.get("guide")), None)
    if guided is not None:
        out["frontier_guided"] = frontier(rows, reference=guided)
    return out


def format_frontier(points: list[dict], against: str = FRONTIERS["frontier"]) -> str:
    """One line per budget, as printed under the bench's table."""
    lines = [f"frontier vs {against}: fastest row within each avg / min mIoU drop of it"]
    for p in points:
        lines.append(f"  ≤ {p['avg_drop']:.1f} / ≤ {p['min_drop']:.1f}: {p['speedup']:.2f}×  {row_name(p)} "
                     f"K={p['interval']}  (avg {p['miou_avg']:.1f}, min {p['miou_min']:.1f})")
    return "\n".join(lines)
