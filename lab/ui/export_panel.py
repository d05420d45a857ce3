"""The Export panel on the Artifacts tab: source, GGUF types, name, publish; the export runs as a job and its
check (agreement, KL divergence per file) and Modelfile show when it ends."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from lab import jobs
from lab.export import arch, llamacpp
from lab.export.recipe import TYPE_HELP, ExportRecipe, build as build_recipe, out_for_name
from lab.export.worker import result_of, submit
from lab.ui import export_strings as S
from lab.ui.common import progress_bar_html, shows_errors, user_token


def start(source, types, name, overwrite, push, private, oauth_token: gr.OAuthToken | None = None):
    """Queue the export job; returns (job id, message)."""
    token = user_token(oauth_token, "Exporting a model")
    recipe = build_recipe(source=source or "", types=list(types or []), out=out_for_name(name),
                          overwrite=bool(overwrite), push=(push or "").strip(), private=bool(private))
    job = submit(recipe, token)
    return job.id, f"Export job `{job.id}` started: {job.title}."


def result_rows(result: dict) -> list[list]:
    rows = []
    for f in result.get("files", []):
        c = f["check"]
        rows.append([Path(f["file"]).name, f["type"], f"{f['bytes'] / 1e6:,.1f} MB",
                     f"{c['top1_agreement']:.1%}" if "top1_agreement" in c else "not checked",
                     f"{c['kl_mean']:.4g}" if "kl_mean" in c else "not checked"])
    return rows


def status(job_id: str):
    """(bar html, status line, table rows, Modelfile text, keep polling)."""
    if not job_id:
        return progress_bar_html(0), "", [], "", False
    job = jobs.get_job(job_id)
    if job.state == "succeeded":
        result = result_of(job)
        line = f"✅ Exported to `{result.get('out', '')}`." + "".join(f" ⚠️ {w}" for w in result.get("warnings", []))
        if result.get("url"):
            line += f" Published: [{result['url']}]({result['url']})"
        return progress_bar_html(1.0, "done"), line, result_rows(result), result.get("modelfile", ""), False
    if job.final:
        error = job.error.splitlines()[0][:400] if job.error else ""
        return progress_bar_html(job.progress, job.state), f"❌ {job.state}: {error}", [], "", False
    return progress_bar_html(job.progress, job.message), job.message, [], "", True


def build() -> dict:
    labels = "; ".join(arch.supported_labels())
    with gr.Accordion(S.TITLE, open=False) as accordion:
        gr.Markdown(S.HELP + "\n\n" + S.SUPPORTED.format(labels=labels, tools=llamacpp.describe()))
        source = gr.Textbox(label="Model to export", info=S.SOURCE_INFO)
        types = gr.CheckboxGroup(llamacpp.available_types(), value=["q8_0"], label="GGUF types",
                                 info=ExportRecipe.model_fields["types"].description)
        with gr.Accordion("What each type means", open=False):
            gr.Markdown("\n".join(f"- **{t}**: {TYPE_HELP[t]}" for t in llamacpp.available_types()))
        with gr.Row(equal_height=True):
            name = gr.Textbox(label="Name", info=S.NAME_INFO, scale=3)
            overwrite = gr.Checkbox(False, label="Overwrite", scale=1)
            push = gr.Textbox(label="Publish to the Hub (optional)", info=S.PUSH_INFO, scale=3)
            private = gr.Checkbox(True, label="Private", scale=1)
        go = gr.Button("Export", variant="primary")
        job_id = gr.Textbox(label="Export job", interactive=False)
        bar = gr.HTML(progress_bar_html(0))
        line = gr.Markdown()
        table = gr.Dataframe(headers=S.COLUMNS, value=[], interactive=False, label="Check: each file against the source")
        modelfile = gr.Code(label="Modelfile (Ollama)", interactive=False)
    timer = gr.Timer(1.0, active=False)

    def begin(*values, oauth_token: gr.OAuthToken | None = None):
        jid, message = start(*values, oauth_token=oauth_token)
        return jid, message, [], "", gr.Timer(active=True)

    go.click(shows_errors(begin), [source, types, name, overwrite, push, private],
             [job_id, line, table, modelfile, timer], api_name="export_gguf")

    def poll(jid):
        html, text, rows, mf, more = status(jid)
        return html, text, rows, mf, gr.Timer(active=more)

    timer.tick(poll, job_id, [bar, line, table, modelfile, timer], api_visibility="private", show_progress="hidden")
    return {"accordion": accordion, "source": source, "types": types, "name": name, "go": go, "table": table}
