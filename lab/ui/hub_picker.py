"""A Hub search picker other tabs reuse: query, sort, results (id, downloads, likes, architecture, license), "use".

The search runs on the server through lab.hub (so it honours HF_ENDPOINT); offline it lists local models and
says so. `build_picker(target)` fills `target` (a Textbox) with the chosen id.
"""
from __future__ import annotations

import gradio as gr

from lab.hub.search import DATASET_COLUMNS, MODEL_COLUMNS, SORTS, search_datasets, search_models
from lab.ui import hub_strings
from lab.ui.common import caller_of, shows_errors


def search(query: str, sort: str, datasets: bool = False, caller=None):
    """Rows for the results table, the notice (offline / nothing found), and the ids in order. The Hub is asked
    with the caller's own token; offline, the caller's own and shared artifacts are listed by name."""
    token = caller.hub_token() if caller is not None else None
    if datasets:
        result = search_datasets(query or "", sort=sort or "downloads", limit=25, token=token, caller=caller)
    else:
        result = search_models(query or "", sort=sort or "downloads", limit=25, token=token, caller=caller)
    notice = f"**{result.notice}**" if result.offline else result.notice
    return result.table(), notice, [r["id"] for r in result.rows]


def build_picker(target: gr.Textbox | None = None, datasets: bool = False, api_name: str | None = None) -> dict:
    """Lay out the picker and wire it; returns its components. `api_name` makes the search a public endpoint."""
    columns = DATASET_COLUMNS if datasets else MODEL_COLUMNS
    with gr.Group():
        with gr.Row(equal_height=True):
            query = gr.Textbox(label="Search the Hub", placeholder=hub_strings.SEARCH_PLACEHOLDER[datasets], scale=4)
            sort = gr.Dropdown(list(SORTS), value="downloads", label="Sort by", scale=1, min_width=120)
            go = gr.Button("Search", scale=1, min_width=90)
        notice = gr.Markdown()
        results = gr.Dataframe(headers=columns, value=[], interactive=False, label="Results", wrap=True,
                               max_height=320)
        with gr.Row(equal_height=True):
            chosen = gr.Textbox(label="Selected", interactive=False, scale=4)
            use = gr.Button("Use", variant="primary", scale=1, min_width=90)
    ids = gr.State([])

    def run(q, s, request: gr.Request):
        return search(q, s, datasets, caller_of(request))

    visibility = {"api_name": api_name} if api_name else {"api_visibility": "private"}
    go.click(shows_errors(run), [query, sort], [results, notice, ids], **visibility)
    query.submit(shows_errors(run), [query, sort], [results, notice, ids], api_visibility="private")

    def select(found: list, evt: gr.SelectData):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return found[row] if found and row is not None and row < len(found) else ""

    results.select(select, ids, chosen, api_visibility="private")
    use.click(lambda value: value, chosen, target if target is not None else chosen, api_visibility="private")
    return {"query": query, "sort": sort, "search": go, "notice": notice, "results": results, "chosen": chosen,
            "use": use}
