"""The Data tab's review tables and funnel chart: pure functions of a run's review dict (lab.data.export.review), the
same for in-process and job runs."""
from __future__ import annotations


def funnel_rows(review: dict) -> list[list]:
    """One row per step: its label, rows in, out and removed, seconds, and its note (what it measured)."""
    return [[s["step"] + ("" if s["enabled"] else " (off)"), s["rows_in"], s["rows_out"], s["removed"],
             s["seconds"], s.get("note", "")] for s in review["report"]["funnel"]]


def warnings(review: dict) -> list[str]:
    """The steps' warnings about their own results (e.g. fuzzy dedup on rows too short to judge), as markdown."""
    return [f"⚠️ **{s['step']}**: {s['warning']}" for s in review["report"]["funnel"] if s.get("warning")]


def sample_rows(review: dict, reason: str) -> list[list]:
    out = []
    for rec in review["samples"].get(reason, []):
        row = {k: v for k, v in rec.items() if k not in ("reason", "detail", "source")}
        text = " | ".join(" / ".join(m["content"][:200] for m in v) for v in row.values() if isinstance(v, list))
        out.append([rec.get("source", ""), rec.get("detail", ""), text[:600]])
    return out


def group_rows(review: dict) -> list[list]:
    return [[g["kept_row"], g["kept"][:300], len(g["removed"]),
             " ‖ ".join(f"#{r['row']} ({r['step'].split('. ', 1)[-1]}): {r['text'][:150]}" for r in g["removed"][:3])]
            for g in review["groups"]]


def funnel_figure(review: dict):
    import plotly.graph_objects as go  # heavy: plotly

    steps = [s for s in review["report"]["funnel"] if s["enabled"]]
    labels = ["loaded"] + [s["step"] for s in steps]
    values = [review["report"]["rows_in"]] + [s["rows_out"] for s in steps]
    fig = go.Figure(go.Funnel(y=labels, x=values, textinfo="value+percent initial"))
    fig.update_layout(height=80 + 45 * len(labels), margin={"t": 20, "l": 10, "r": 10, "b": 10})
    return fig
