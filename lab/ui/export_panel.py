"""The Export panel on the Artifacts tab: source, GGUF types, name, publish; the export runs as a job and its
check (agreement, KL divergence per file) and Modelfile show when it ends."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from lab import jobs
from lab.access import Caller
from lab.errors import LabError
from lab.export import arch, llamacpp
from lab.export.recipe import TYPE_HELP, ExportRecipe, build as build_recipe, default_out, out_for_name
from lab.export.source import parse as parse_source
from lab.export.worker import result_of, submit
from lab.jobs import owners
from lab.models.usable import model_for
from lab.shown import for_visitor, scrub
from lab.ui import downloads, export_strings as S, follow
from lab.ui.common import caller_of, progress_bar_html, shows_errors


def start(caller: Caller, source, types, name, overwrite, push, private):
    """Queue the export job for this caller; returns (job id, message). Refused on the demo and for anonymous
    visitors before anything is read; a visitor exports only what they may use, and overwrites only their own."""
    jobs.check_allowed("export")
    caller.require_signed_in("Exporting a model")
    model_for(caller, source or "", "source")
    recipe = build_recipe(source=source or "", types=list(types or []), out=out_for_name(name),
                          overwrite=bool(overwrite), push=(push or "").strip(), private=bool(private))
    out = Path(recipe.out) if recipe.out else default_out(parse_source(recipe.source).name)
    if out.exists():  # replacing (or clashing with) an artifact: only its owner's to do
        owners.artifact_to_change(caller, out.name, "Overwriting an artifact")
    job = submit(recipe, caller.hub_token(), owner=caller.key)
    return job.id, f"Export job `{job.id}` started: {scrub(job.title)}."


def result_rows(result: dict) -> list[list]:
    rows = []
    for f in result.get("files", []):
        c = f["check"]
        rows.append([Path(f["file"]).name, f["type"], f"{f['bytes'] / 1e6:,.1f} MB",
                     f"{c['top1_agreement']:.1%}" if "top1_agreement" in c else "not checked",
                     f"{c['kl_mean']:.4g}" if "kl_mean" in c else "not checked"])
    return rows


def status(caller: Caller, job_id: str):
    """(bar html, status line, table rows, Modelfile text, keep polling)."""
    if not job_id:
        return progress_bar_html(0), "", [], "", False
    job = owners.job_for(caller, job_id)
    if job.state == "succeeded":
        result = result_of(job)
        line = f"✅ Exported to `{Path(result.get('out', '')).name}`." + "".join(
            f" ⚠️ {scrub(w)}" for w in result.get("warnings", []))
        if result.get("url"):
            line += f" Published: [{result['url']}]({result['url']})"
        return progress_bar_html(1.0, "done"), line, result_rows(result), result.get("modelfile", ""), False
    if job.final:
        error = scrub(job.error.splitlines()[0][:400]) if job.error else ""
        return progress_bar_html(job.progress, job.state), f"❌ {job.state}: {error}", [], "", False
    return progress_bar_html(job.progress, job.message), scrub(job.message), [], "", True


def form_of(job: jobs.Job) -> list:
    """The panel's fields as an export job's recipe set them (a page that comes back to the job shows them)."""
    r = ExportRecipe.from_yaml(job.recipe)
    return [r.source, list(r.types), Path(r.out).name if r.out else "", r.overwrite, r.push, r.private]


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
        job_id = gr.Textbox(label="Export job", info=S.JOB_INFO, elem_id="export-job")
        bar = gr.HTML(progress_bar_html(0))
        line = gr.Markdown()
        table = gr.Dataframe(headers=S.COLUMNS, value=[], interactive=False, label="Check: each file against the source")
        modelfile = gr.Code(label="Modelfile (Ollama)", interactive=False)
        download_btn, download_files = downloads.place("Download the GGUF files", "export-download")
    timer = gr.Timer(1.0, active=False)

    def begin(source_, types_, name_, overwrite_, push_, private_, request: gr.Request):
        jid, message = start(caller_of(request), source_, types_, name_, overwrite_, push_, private_)
        return jid, message, [], "", gr.Timer(active=True)

    follow.mark_url(go.click(shows_errors(begin), [source, types, name, overwrite, push, private],
                             [job_id, line, table, modelfile, timer], api_name="export_gguf"), job_id)
    follow.attach("export", job_id, timer, reveal=accordion,
                  form=([source, types, name, overwrite, push, private], form_of))

    def poll(jid, request: gr.Request):
        try:
            html, text, rows, mf, more = status(caller_of(request), (jid or "").strip())
        except LabError as exc:  # a typed id that is no job of the caller's
            html, text, rows, mf, more = progress_bar_html(0), for_visitor(f"⚠️ {exc.what} {exc.fix}"), [], "", False
        return html, text, rows, mf, gr.Timer(active=more)

    downloads.wire(download_btn, job_id, download_files, from_job=True)
    timer.tick(poll, job_id, [bar, line, table, modelfile, timer], api_visibility="private", show_progress="hidden")
    return {"accordion": accordion, "source": source, "types": types, "name": name, "go": go, "table": table}
