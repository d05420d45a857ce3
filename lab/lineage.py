"""Lineage across artifacts: the family-tree edges read from manifests, and a small SVG picture of them."""
from __future__ import annotations

from pathlib import Path

from lab.artifacts import read_manifest
from lab.cards import shown_ref


def family_edges(manifest: dict, child: str = "", depth: int = 6) -> list[tuple[str, str]]:
    """(parent, child) edges of a manifest's family tree, following local artifacts' manifests and cards."""
    child = child or manifest.get("name", "this model")
    edges = []
    for p in manifest.get("parents", []):
        edges.append((p["ref"], child))
        if depth <= 1:
            continue
        sub = read_manifest(Path(p["path"])) if p.get("path") else {}
        if sub:
            edges += family_edges(sub, p["ref"], depth - 1)
        for step in p.get("lineage", []) if not sub else []:
            edges += [(q, step["child"]) for q in step.get("parents", []) if step.get("child")]
    return list(dict.fromkeys(edges))


def _generations(edges: list[tuple[str, str]]) -> dict[str, int]:
    """Depth of each node above the final child (child = 0, its parents = 1, …)."""
    children = {c for _, c in edges}
    parents = {p for p, _ in edges}
    roots = [c for c in children if c not in parents] or list(children)[:1]
    depth = {r: 0 for r in roots}
    changed = True
    while changed:
        changed = False
        for p, c in edges:
            if c in depth and depth.get(p, -1) < depth[c] + 1 and depth[c] < 20:
                depth[p] = depth[c] + 1
                changed = True
    return depth


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _score_fill(value: float, low: float, high: float) -> str:
    """Red (lowest) through amber to green (highest) among the scored nodes."""
    t = 0.5 if high <= low else (value - low) / (high - low)
    r, g = (255, int(140 + 115 * t * 2)) if t < 0.5 else (int(255 - 135 * (t - 0.5) * 2), 230)
    return f"#{r:02x}{min(g, 255):02x}90"


def family_tree_svg(edges: list[tuple[str, str]], scores: dict[str, float] | None = None, metric: str = "") -> str:
    """Parents above children, one row per generation, as a small standalone SVG (no plotting library:
    the merge job draws it in milliseconds, the card embeds it and the UI shows it inline). With `scores`
    (node -> value), scored nodes are coloured from red (lowest) to green (highest) and show their value."""
    depth = _generations(edges) if edges else {}
    rows: dict[int, list[str]] = {}
    for node, d in sorted(depth.items()):
        rows.setdefault(d, []).append(node)
    box_w, box_h, gap_x, gap_y = 250, 30, 20, 60
    width = max((len(v) for v in rows.values()), default=1) * (box_w + gap_x) + gap_x
    top = max(rows, default=0)
    height = (top + 1) * (box_h + gap_y) + gap_y
    pos = {}
    for d, names in rows.items():
        span = len(names) * (box_w + gap_x) - gap_x
        for i, n in enumerate(names):
            pos[n] = ((width - span) / 2 + i * (box_w + gap_x), gap_y / 2 + (top - d) * (box_h + gap_y))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="11">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>']
    for p, c in edges:
        if p in pos and c in pos:
            (px, py), (cx, cy) = pos[p], pos[c]
            x1, y1, x2, y2 = px + box_w / 2, py + box_h, cx + box_w / 2, cy
            bend = (box_w * 0.75) if depth[p] - depth[c] > 1 else 0  # skip-a-generation edges curve around
            parts.append(f'<path d="M{x1:.0f},{y1:.0f} Q{(x1 + x2) / 2 + bend:.0f},{(y1 + y2) / 2:.0f} '
                         f'{x2:.0f},{y2:.0f}" fill="none" stroke="#888" marker-end="url(#arrow)"/>')
    scored = {n: v for n, v in (scores or {}).items() if n in pos and v is not None}
    low, high = min(scored.values(), default=0), max(scored.values(), default=0)
    for n, (x, y) in pos.items():
        n_shown = shown_ref(n)  # the picture is published with the card: no local paths
        label = n_shown
        label = label if len(label) <= 38 else "…" + label[-37:]
        fill = "#ffe7a8" if depth[n] == 0 else "#dbe9ff"
        if n in scored:
            label = (label if len(label) <= 28 else "…" + label[-27:]) + f" · {scored[n]:.3f}"
            fill = _score_fill(scored[n], low, high)
        parts.append(f'<g><title>{_esc(n_shown)}</title><rect x="{x:.0f}" y="{y:.0f}" width="{box_w}" height="{box_h}" '
                     f'rx="6" fill="{fill}" stroke="#777"/><text x="{x + box_w / 2:.0f}" y="{y + box_h / 2 + 4:.0f}" '
                     f'text-anchor="middle">{_esc(label)}</text></g>')
    if scored and metric:
        parts.append(f'<text x="6" y="{height - 6:.0f}" fill="#555">colour: {_esc(metric)} (red lowest, green '
                     f'highest)</text>')
    parts.append("</svg>")
    return "\n".join(parts)
