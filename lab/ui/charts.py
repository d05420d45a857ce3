"""The lab's live and compared line charts: one way to build them, so each shows its whole legend, and one way to
update a live one, so it is redrawn only when its curve changed and never removed under Gradio's resize watcher."""
from __future__ import annotations

import gradio as gr

CHART_CLASS = "lab-chart"
# Gradio 6 sizes a plot's drawing to the block's height but places it below the block's label, and Vega-Lite puts the
# legend at the bottom of that drawing, so the legend fell outside the block and was clipped: give it the label's room
CSS = f".{CHART_CLASS}{{padding-bottom:56px !important}} .{CHART_CLASS} svg{{overflow:visible}}"


def line_plot(label: str, y_title: str, color: str, legend: str, elem_id: str, height: int = 240) -> gr.LinePlot:
    """A line chart of a (step, value, <color>) frame, one named line per value of `color`, its legend titled
    `legend`. It starts empty (None): Gradio 6 never draws the lines of a color-split plot that started from an
    empty frame."""
    return gr.LinePlot(None, x="step", y="value", color=color, color_title=legend, label=label, y_title=y_title,
                       height=height, elem_id=elem_id, elem_classes=[CHART_CLASS])


def redrawn(rows: list, shown: list | None, frame):
    """The update of a live chart for its rows now, against the rows it showed (None before the first).
    Gradio 6 leaves a resize watcher behind at each redraw; one left by a redraw while the chart's tab was hidden
    reads the plot's element once that is removed, as a None value removes it ('offsetWidth of null' page errors).
    So a chart is redrawn only when its curve changed, and one that showed a curve is emptied, never set to None."""
    if shown is not None and rows == shown:
        return gr.skip()
    return frame(rows) if rows or shown else None


def whole_steps(frame, column: str):
    """`frame` with its whole-number `column` (generations) as text, so the plot's axis shows whole steps only: a
    numeric axis over a few steps ticks halves (0.5, 1.5…), and Gradio 6's LinePlot takes no tick step. The text is
    padded with leading spaces to one width, so its text order is the steps' order (" 2" before "10") and a drawn
    label shows no space (SVG collapses it). It stays text however many steps: a plot switched to a numeric axis
    mid-run keeps the axis it was first drawn with, and a `sort` on the plot redraws one update late."""
    if frame.empty:
        return frame
    width = len(str(int(frame[column].max())))
    return frame.assign(**{column: [str(int(v)).rjust(width) for v in frame[column]]})
