"""Pictures of a merge (matplotlib figures, which gr.Plot shows and the card embeds as PNG):
the passthrough layer map, the t / weight curves across layers, and the family tree."""
from __future__ import annotations

from pathlib import Path

from lab.merge.methods import evaluate
from lab.merge.recipe import MergeRecipe

FILTERS = {"self_attn": "model.layers.{i}.self_attn.q_proj.weight", "mlp": "model.layers.{i}.mlp.up_proj.weight",
           "other": "model.layers.{i}.input_layernorm.weight"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return Path(path)


def layer_positions(recipe: MergeRecipe, layers: int) -> list[tuple[int, float, int]]:
    """(output layer, t within its slice, slice index) as mergekit computes gradients: t runs 0->1 per slice."""
    spans = [s.sources[0].layer_range[1] - s.sources[0].layer_range[0] for s in recipe.slices] \
        if recipe.slices else [layers]
    out, k = [], 0
    for si, n in enumerate(spans):
        for i in range(n):
            out.append((k, i / (n - 1) if n > 1 else 1.0, si))
            k += 1
    return out


def curves(recipe: MergeRecipe, layers: int) -> dict[str, list[float]]:
    """Each numeric parameter's value per output layer, per module filter and per model: what mergekit uses."""
    blocks = [("", recipe.parameters or {})]
    blocks += [(m.model.split("/")[-1] + ": ", m.parameters or {}) for m in recipe.models or []]
    slice_params = [s.parameters or {} for s in recipe.slices or []]
    out: dict[str, list[float]] = {}
    for prefix, params in blocks:
        for name, setting in params.items():
            for filt, pattern in FILTERS.items():
                ys = []
                for k, t, si in layer_positions(recipe, layers):
                    chosen = slice_params[si].get(name, setting) if slice_params else setting
                    v = evaluate(chosen, pattern.format(i=k), t)
                    ys.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan"))
                if any(y == y for y in ys):
                    out[f"{prefix}{name} ({filt})"] = ys
    # identical curves for every filter collapse into one line
    merged: dict[str, list[float]] = {}
    for label, ys in out.items():
        base = label.rsplit(" (", 1)[0]
        if all(out.get(f"{base} ({f})") == ys for f in FILTERS if f"{base} ({f})" in out):
            merged.setdefault(base, ys)
        else:
            merged[label] = ys
    return merged


def curves_figure(recipe: MergeRecipe, layers: int):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    data = curves(recipe, layers)
    for label, ys in data.items():
        ax.plot(range(len(ys)), ys, marker="o", markersize=3, label=label)
    ax.set_xlabel("output layer")
    ax.set_ylabel("value")
    ax.set_title(f"{recipe.merge_method}: parameters across layers" if data else "No numeric parameters to plot")
    if data:
        ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    return fig


def layer_map_figure(recipe: MergeRecipe, layer_params: dict[str, list[int]] | None = None):
    """Slices as coloured blocks: output layer on x, source model and its layer numbers on the blocks."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.45 * max(1, len(recipe.slices or []))))
    colors = {}
    start, total = 0, 0
    for i, s in enumerate(recipe.slices or []):
        src = s.sources[0]
        a, b = src.layer_range
        n = b - a
        color = colors.setdefault(src.model, f"C{len(colors) % 10}")
        ax.barh(i, n, left=start, color=color, edgecolor="black", alpha=0.8)
        names = " + ".join(x.model.split("/")[-1] for x in s.sources)
        ax.text(start + n / 2, i, f"{names}  [{a}, {b})", ha="center", va="center", fontsize=7)
        per = (layer_params or {}).get(src.model) or []
        total += sum(per[j] for j in range(a, min(b, len(per))))
        start += n
    from lab.models.info import human_params

    extra = f", ~{human_params(total)} params in layers" if total else ""
    ax.set_title(f"{start} output layers from {len(recipe.slices or [])} slices{extra}")
    ax.set_xlabel("output layer")
    ax.set_yticks(range(len(recipe.slices or [])), [f"slice {i}" for i in range(len(recipe.slices or []))])
    ax.invert_yaxis()
    ax.set_xlim(0, max(start, 1))
    return fig


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


def family_tree_svg(edges: list[tuple[str, str]]) -> str:
    """Parents above children, one row per generation, as a small standalone SVG (no plotting library:
    the merge job draws it in milliseconds, the card embeds it and the UI shows it inline)."""
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
    for n, (x, y) in pos.items():
        label = Path(n).name if n.startswith(("/", "~", ".")) else n
        label = label if len(label) <= 38 else "…" + label[-37:]
        fill = "#ffe7a8" if depth[n] == 0 else "#dbe9ff"
        parts.append(f'<g><title>{_esc(n)}</title><rect x="{x:.0f}" y="{y:.0f}" width="{box_w}" height="{box_h}" '
                     f'rx="6" fill="{fill}" stroke="#777"/><text x="{x + box_w / 2:.0f}" y="{y + box_h / 2 + 4:.0f}" '
                     f'text-anchor="middle">{_esc(label)}</text></g>')
    parts.append("</svg>")
    return "\n".join(parts)
