"""The accuracy–speed frontier of a bench report: the fastest row that stays within each accuracy budget.

Usage: ``best = frontier(report["rows"])`` → one dict per budget, e.g. ``{"avg_drop": 1.0, "min_drop": 2.0,
"mode": "interp", "interval": 6, "fusion": "linear", "keyframes": "fixed", "correct": None, "guide": False,
"speedup": 4.5}``

A row meets a budget (a, m) when its avg mIoU is at most a points and its min mIoU at most m points below
frame mode's (the same report's frame row). Frame mode itself always meets every budget (speedup 1), so each
budget has an answer.
"""

from __future__ import annotations

BUDGETS = ((0.5, 1.0), (1.0, 2.0), (2.0, 4.0))  # (avg drop, min drop) in mIoU points
_EPS = 1e-9  # drops are compared after the report's rounding to 0.001


def frontier(rows: list[dict], budgets=BUDGETS) -> list[dict]:
    """The fastest row (highest speedup) within each (avg drop, min drop) budget; ties go to the row listed
    first. rows: a bench report's rows, frame mode's among them."""
    frame = next((r for r in rows if r["mode"] == "frame"), None)
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


def format_frontier(points: list[dict]) -> str:
    """One line per budget, as printed under the bench's table."""
    lines = ["frontier: fastest row within an avg / min mIoU drop of frame mode"]
    for p in points:
        lines.append(f"  ≤ {p['avg_drop']:.1f} / ≤ {p['min_drop']:.1f}: {p['speedup']:.2f}×  {row_name(p)} "
                     f"K={p['interval']}  (avg {p['miou_avg']:.1f}, min {p['miou_min']:.1f})")
    return "\n".join(lines)
