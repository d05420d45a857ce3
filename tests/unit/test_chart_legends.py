"""Every multi-line chart names its lines and its legend (issue 26): the Train tab's live charts read a job's
metrics.jsonl through lab.train.panel.status; the pictures (LR sweep, eval scores, merge weights) carry labels."""
import json

from lab.access import local
from lab.jobs import store
from lab.train import panel
from lab.train.methods.base import TRL_LOG_KEYS
from lab.train.methods.grpo import GRPO_KEYS


def _grpo_job(rewards: list[str], steps: int = 3):
    """A GRPO job record whose metrics.jsonl holds the rows the lab's callback writes (TRL's keys renamed)."""
    job = store.create("train.grpo", "lab.train.worker:run", True, "method: {name: grpo}")
    job.folder.mkdir(parents=True)
    rows = []
    for step in range(1, steps + 1):
        row = {"step": step, "loss": 1.0 / step, "lr": 1e-5, "grad_norm": 0.5, "tokens_per_s": 90.0,
               TRL_LOG_KEYS["reward"]: 0.2 * step, TRL_LOG_KEYS["reward_std"]: 0.1, TRL_LOG_KEYS["kl"]: 0.01 * step,
               GRPO_KEYS["completions/clipped_ratio"]: 0.25, GRPO_KEYS["clip_ratio/region_mean"]: 0.0,
               GRPO_KEYS["completions/mean_length"]: 40.0 + step}
        row.update({f"reward_{name}": 0.1 * step for name in rewards})
        row.update({f"reward_{name}_std": 0.05 for name in rewards})
        rows.append(row)
    rows.append({"step": steps, "eval_loss": 0.9})
    job.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return job


def test_the_live_charts_name_their_lines_and_legends():
    status = panel.status(_grpo_job(["format", "exact"]).id, local())
    names = {chart: {p["series"] for p in status[chart]} for chart in ("loss", "lr", "grad_norm", "tokens_per_s",
                                                                       "rewards", "kl", "length")}
    assert names == {"loss": {"train", "eval"}, "lr": {"learning rate"}, "grad_norm": {"gradient norm"},
                     "tokens_per_s": {"tokens/s"}, "rewards": {"total", "format", "exact"},
                     "kl": {"KL", "clipped answers", "clipped ratio"}, "length": {"completion length"}}
    assert [p["step"] for p in status["rewards"] if p["series"] == "exact"] == [1, 2, 3]
    assert all("series" not in lines for lines in names.values())
    assert set(panel.LEGENDS) == set(names) and "series" not in panel.LEGENDS.values()
    assert panel.LEGENDS["rewards"] == "reward" and panel.LEGENDS["kl"] == "measure"
    frame = panel.curve_frame(status["rewards"])
    assert set(frame["series"]) == {"total", "format", "exact"}


def test_the_pictures_name_every_line():
    """The LR sweep, the eval scores and the merge weights: each line or bar group has its own legend entry."""
    from lab.eval.report import chart
    from lab.merge.pictures import curves_figure
    from lab.merge.recipe import load_recipe
    from lab.train.lr_finder import figure
    from tests.unit.test_merge_recipe import REALISTIC

    _, ax = figure({"lrs": [1e-6, 1e-5, 1e-4, 1e-3], "losses": [2.0, 1.8, 1.5, 3.0],
                    "smoothed": [2.0, 1.9, 1.6, 2.5], "suggestion": 1e-4})
    assert ax.get_legend_handles_labels()[1] == ["loss", "smoothed", "suggested 0.0001"]
    scores = {"tasks": [{"name": "arith", "metric": "acc"}, {"name": "facts", "metric": "exact_match"}],
              "models": [{"label": "base", "scores": {"arith": {"acc": 0.4}, "facts": {"exact_match": 0.2}}},
                         {"label": "fine-tune", "scores": {"arith": {"acc": 0.6}, "facts": {"exact_match": 0.3}}}]}
    legend = chart(scores).axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["base", "fine-tune"]
    legend = curves_figure(load_recipe(REALISTIC["slerp_gradient"]), 32).axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["t (self_attn)", "t (mlp)", "t (other)"]


def test_a_live_chart_is_redrawn_only_when_its_curve_changed():
    """The Train tab's tick skips a chart whose rows are the ones it shows, and empties (never removes) one that
    showed a curve: Gradio's resize watchers read a removed plot element ('offsetWidth of null')."""
    import gradio as gr

    from lab.ui import charts

    rows = panel.status(_grpo_job(["format"]).id, local())["loss"]
    assert charts.redrawn(rows, None, panel.curve_frame).equals(panel.curve_frame(rows))  # a fresh page draws
    assert charts.redrawn(rows, rows, panel.curve_frame) == gr.skip()
    assert len(charts.redrawn(rows, rows[:-1], panel.curve_frame)) == len(rows)  # a new point redraws
    emptied = charts.redrawn([], rows, panel.curve_frame)
    assert emptied is not None and emptied.empty and list(emptied.columns) == ["step", "value", "series"]
    assert charts.redrawn([], None, panel.curve_frame) is None  # nothing drawn yet: nothing to draw
    assert charts.redrawn([], [], panel.curve_frame) == gr.skip()
