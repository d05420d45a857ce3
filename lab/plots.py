"""The pictures the lab draws (loss curves, LR sweeps, rewards, scores, merge weights): matplotlib on Agg, so no
display is needed, and one way to finish a curve and write its PNG."""
from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend."""
    import matplotlib  # heavy: matplotlib, loaded only when a picture is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # heavy: matplotlib

    return plt


def curve_axes():
    """(figure, axes) for a curve: 6 × 3.2 inches at 100 dpi."""
    return pyplot().subplots(figsize=(6, 3.2), dpi=100)


def save_curve(fig, ax, out: Path, xlabel: str, ylabel: str) -> Path:
    """Label the axes, add a light grid and the legend, write the PNG and close the figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    pyplot().close(fig)
    return out
