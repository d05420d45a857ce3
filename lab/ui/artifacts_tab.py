"""The Artifacts tab: the caller's datasets, adapters, models, merges and vote sets (the owner sees all, a visitor
their own and what the owner shared), each with its card, lineage and actions. An artifact is named by its folder
name, never by its place on the server."""
from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import gradio as gr

from lab.access import Caller, owner_label
from lab.artifacts import delete_artifact, folder_size, read_manifest
from lab.cards import shown_ref
from lab.errors import LabError
from lab.jobs import owners
from lab.lineage import family_edges
from lab.scores import scored_tree
from lab.ui import bus, downloads, export_panel, score_colour
from lab.ui.app import TABS
from lab.ui.common import caller_of, lab_error, shows_errors

COLUMNS = ["name", "kind", "size", "parents", "created", "owner", "folder"]
KIND_FILTER = ["all", "dataset", "adapter", "model", "merge", "gguf", "votes"]
CHATTABLE = {"adapter", "model", "merge"}
EXPORTABLE = CHATTABLE
IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n < 2**30 else f"{n / 2**30:.2f} GB"


def rows(caller: Caller, kind: str = "all") -> list[list]:
    out = []
    for m in owners.visible_artifacts(caller):
        if kind != "all" and m.get("kind") != kind:
            continue
        parents = ", ".join(shown_ref(p["ref"]) for p in m.get("parents", []))
        who = owner_label(m.get("owner")) + (" · shared" if m.get("shared") else "")
        out.append([m.get("name", ""), m.get("kind", ""), _mb(folder_size(Path(m["path"]))), parents,
                    time.strftime("%Y-%m-%d %H:%M", time.localtime(m.get("created", 0))), who,
                    Path(m["path"]).name])
    return out


def _folder(caller: Caller, ref: str) -> Path:
    if not ref:
        raise lab_error(LabError("No artifact picked.", "Click a row of the table first.", "artifact"))
    try:
        return owners.artifact_for(caller, ref)
    except LabError as exc:
        raise lab_error(exc) from None


def _manifest(caller: Caller, ref: str) -> dict:
    return read_manifest(_folder(caller, ref))


def _inline_images(text: str, folder: Path) -> str:
    """The card's own pictures (e.g. loss.png beside it) as data URIs: the browser cannot fetch files from
    LAB_HOME (blocked on purpose), so a relative link would show a broken image."""
    def swap(m: re.Match) -> str:
        alt, target = m.group(1), m.group(2)
        if ":" in target:  # http(s): or data: links are the card author's choice
            return m.group(0)
        path = (folder / target).resolve()
        mime = IMAGE_TYPES.get(path.suffix.lower())
        if mime and path.is_file() and path.is_relative_to(folder.resolve()) and path.stat().st_size < 2**21:
            return f"![{alt}](data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()})"
        return f"*({alt or target}: `{target}` in the artifact folder)*"

    return IMAGE_LINK.sub(swap, text)


def card(ref: str, request: gr.Request) -> str:
    folder = _folder(caller_of(request), ref)
    readme = folder / "README.md"
    if not readme.is_file():
        return "This artifact has no card."
    text = readme.read_text(errors="replace")
    if text.startswith("---\n") and "\n---\n" in text[4:]:  # the Hub metadata header, shown as YAML, not prose
        head, body = text[4:].split("\n---\n", 1)
        text = f"```yaml\n{head}\n```\n{body}"
    return _inline_images(text, folder)


def lineage(ref: str, colour: str | None = None, request: gr.Request = None) -> str:
    folder = _folder(caller_of(request), ref)
    m = read_manifest(folder)
    edges = family_edges(m, m.get("name", folder.name))
    return scored_tree(m, m.get("name", folder.name), colour or "") if edges else "<p>No recorded parents.</p>"


def build() -> None:
    gr.Markdown("Everything the lab made lives here. Pick a row, then open its card, see its family tree, "
                "send it to another tab, or delete it.")
    with gr.Row():
        kind = gr.Dropdown(KIND_FILTER, value="all", label="Kind", scale=1)
        refresh = gr.Button("Refresh", scale=0)
    table = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, wrap=True, label="Artifacts",
                         elem_id="artifacts-table")
    picked = gr.Textbox(label="Selected artifact", interactive=False)
    with gr.Row():
        card_btn = gr.Button("Open card")
        tree_btn = gr.Button("Lineage")
        chat_btn = gr.Button("Chat with it")
        merge_btn = gr.Button("Merge from it")
        train_btn = gr.Button("Train on it")
        publish_btn = gr.Button("Publish it")
        export_btn = gr.Button("Export to GGUF")
    download_btn, download_files = downloads.place("Download (GGUF files, or a zip of the folder)", "artifact-download")
    colour = score_colour.picker("artifacts-colour")
    with gr.Row():
        confirm = gr.Checkbox(label="Yes, delete this artifact's folder for good", value=False)
        delete_btn = gr.Button("Delete", variant="stop")
    with gr.Row():
        shared = gr.Checkbox(False, label="Share with every visitor of this Space (owner only)")
        share_btn = gr.Button("Apply sharing")
    status = gr.Markdown()
    export = export_panel.build()
    card_md = gr.Markdown()
    tree = gr.HTML()

    def listed(k, request: gr.Request):
        return rows(caller_of(request), k)

    refresh.click(listed, kind, table, api_name="artifacts_list")
    kind.change(listed, kind, table, api_visibility="private")
    gr.context.Context.root_block.load(listed, kind, table, api_visibility="private")

    def select(evt: gr.SelectData):
        return evt.row_value[-1] if evt.row_value else ""

    table.select(select, None, picked, api_visibility="private")
    card_btn.click(card, picked, card_md, api_name="artifact_card")
    downloads.wire(download_btn, picked, download_files, api_name="artifact_download")
    tree_btn.click(lineage, [picked, colour], tree, api_name="artifact_lineage")
    def recolour(ref, c, request: gr.Request):
        return lineage(ref, c, request) if ref else gr.skip()

    colour.input(recolour, [picked, colour], tree, api_visibility="private")

    def send(target: str, tab: str, allowed: set[str] | None):
        def handler(ref, request: gr.Request):
            folder = _folder(caller_of(request), ref)
            m = read_manifest(folder)
            if allowed and m.get("kind") not in allowed:
                raise lab_error(LabError(f"A {m.get('kind')} cannot go to {tab.title()}.",
                                         f"Pick a {' / '.join(sorted(allowed))}.", "artifact"))
            return bus.stamp(folder.name), bus.goto(tab)
        return handler

    present = {label.lower() for label, _ in TABS}
    for btn, target, tab, allowed in ((chat_btn, "chat", "chat", CHATTABLE), (merge_btn, "merge", "merge", CHATTABLE),
                                      (train_btn, "train", "train", {"dataset", "votes"}),
                                      (publish_btn, "publish", "hub", None)):
        if tab not in present:
            btn.visible = False  # that stage's tab is not in this app
            continue
        btn.click(send(target, tab, allowed), picked, [getattr(bus.BUS, target), bus.BUS.tabs],
                  api_visibility="private")

    def to_export(ref, request: gr.Request):
        folder = _folder(caller_of(request), ref)
        if read_manifest(folder).get("kind") not in EXPORTABLE:
            raise lab_error(LabError("This artifact does not export to GGUF.",
                                     f"Pick a {' / '.join(sorted(EXPORTABLE))}.", "artifact"))
        return folder.name, gr.Accordion(open=True)

    export_btn.click(to_export, picked, [export["source"], export["accordion"]], api_visibility="private")

    @shows_errors
    def delete(ref, sure, request: gr.Request):
        caller = caller_of(request)
        caller.require_signed_in("Deleting an artifact")
        folder = owners.artifact_to_change(caller, ref, "Deleting")
        if not sure:
            return "Tick the confirmation box first: deleting cannot be undone.", gr.skip(), gr.skip()
        delete_artifact(folder)
        return f"Deleted `{folder.name}`.", rows(caller, "all"), ""

    delete_btn.click(delete, [picked, confirm], [status, table, picked], api_name="artifact_delete")

    @shows_errors
    def share(ref, on, request: gr.Request):
        caller = caller_of(request)
        return owners.share_artifact(caller, ref, bool(on)), rows(caller, "all")

    share_btn.click(share, [picked, shared], [status, table], api_name="artifact_share")
