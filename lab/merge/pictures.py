"""Pictures of a merge (matplotlib figures, which gr.Plot shows and the card embeds as PNG):
the passthrough layer map, the t / weight curves across layers, and the family tree."""
from __future__ import annotations

from pathlib import Path

from lab.merge.methods import evaluate
from lab.merge.recipe import MergeRecipe
from lab.models.info import human_params
from lab.plots import pyplot

FILTERS = {"self_attn": "model.layers.{i}.self_attn.q_proj.weight", "mlp": "model.layers.{i}.mlp.up_proj.weight",
           "other": "model.layers.{i}.input_layernorm.weight"}


def save_figure(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
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
    plt = pyplot()
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
    plt = pyplot()
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

    extra = f", ~{human_params(total)} params in layers" if total else ""
    ax.set_title(f"{start} output layers from {len(recipe.slices or [])} slices{extra}")
    ax.set_xlabel("output layer")
    ax.set_yticks(range(len(recipe.slices or [])), [f"slice {i}" for i in range(len(recipe.slices or []))])
    ax.invert_yaxis()
    ax.set_xlim(0, max(start, 1))
    return fig
