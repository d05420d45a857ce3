"""What the Data tab does, without gradio: one Session per browser session holds the loaded table, the last
run and its exploration. The tab's handlers only convert widget values and call these methods.

Small runs go in-process (the review shows at once); large ones, and runs that load models for scoring,
go to a `data.run` job whose folder becomes the dataset artifact.

Every method that works takes the caller (a lab.access.Caller; None: see lab.data.judge_policy.acting_caller) and
refuses, before any work, what lab.data.policy says they may not do. An upload is held as `upload:HASH/NAME`.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal, get_args, get_origin

import numpy as np

from lab import uploads
from lab.access import Caller
from lab.data import export, formats, load, normalize, pipeline, policy, submit_run
from lab.data.explore import explore, word_counts
from lab.data.dedup_confirm import short_rows_warning
from lab.data.judge import make_judge
from lab.data.judge_policy import acting_caller, check_judge
from lab.data.pipeline import load_table
from lab.data.recipe import STEP_TYPES, FilterRecipe, Source, make_step
from lab.data.review import funnel_figure, funnel_rows, group_rows, sample_rows, warnings  # noqa: F401 (the tab's)
from lab.errors import LabError
from lab.jobs.manager import check_allowed

IN_PROCESS_ROWS = 20_000  # above this, a run is a job
IN_PROCESS_EMBED_ROWS = 3_000  # embedding on CPU: ~450 short texts/s
VISITOR_JUDGE_S = 120.0  # what a visitor's endpoint judge may take in all when Explore names clusters in-process


def step_order() -> list[str]:
    """The pipeline's steps as the tab lays them out (the clusters step last: it acts on what Explore shows)."""
    return list(STEP_TYPES)


def step_fields(kind: str) -> list[str]:
    return [f for f in STEP_TYPES[kind].model_fields if f != "type"]


def widget(kind: str, name: str) -> tuple[str, object, list]:
    """(widget type, starting value, choices) for one step field: check, choice, int, float, lines, ints, text."""
    info = STEP_TYPES[kind].model_fields[name]
    default = info.get_default(call_default_factory=True)
    ann = info.annotation
    if name == "enabled":
        return "check", STEP_TYPES[kind].on_by_default, []
    if ann is bool:
        return "check", default, []
    if get_origin(ann) is Literal:
        return "choice", default, list(get_args(ann))
    if ann == list[int]:
        return "ints", ", ".join(map(str, default)), []
    if ann == list[str]:
        return "lines", "\n".join(default), []
    args = set(get_args(ann)) or {ann}
    if int in args:
        return "int", default, []
    if float in args:
        return "float", default, []
    return "text", default, []


def field_value(kind: str, name: str, value):
    """A widget's value as the step field wants it (empty numbers are None, lists are parsed)."""
    what = widget(kind, name)[0]
    if what == "lines":
        return [line.strip() for line in (value or "").splitlines() if line.strip()]
    if what == "ints":
        try:
            return [int(p) for p in (value or "").replace(",", " ").split()]
        except ValueError:
            raise LabError(f"{value!r} is not a list of whole numbers.", "Write cluster numbers like 1, 4.",
                           f"{kind}.{name}") from None
    if what in ("int", "float") and value in ("", None):
        return None
    if what == "int":
        return int(value)
    return value


def steps_from_widgets(values: list) -> list:
    """Validated steps, in the tab's order, from the flat list of widget values (step_order × step_fields)."""
    steps, it = [], iter(values)
    for kind in step_order():
        fields = {name: field_value(kind, name, next(it)) for name in step_fields(kind)}
        steps.append(make_step(kind, **{k: v for k, v in fields.items() if v is not None}))
    return steps


class Session:
    def __init__(self):
        self.sources: list[Source] = []
        self.table: normalize.Table | None = None
        self.source_info: list[dict] = []
        self.result = None
        self.recipe: FilterRecipe | None = None
        self.exploration = None
        self.explored_rows: np.ndarray | None = None
        self.folder: Path | None = None  # the exported (or job) artifact of the last run
        self.job_id: str = ""
        self.pending: tuple | None = None  # (sources, index, form) waiting for a column mapping

    # ---- load
    def load(self, sources: list[Source], form: str = "auto", token: str | None = None,
             caller: Caller | None = None) -> dict:
        """Load and normalize every source. NeedsMapping (naming the source) when one is ambiguous."""
        if not sources:
            raise LabError("Nothing to load.", "Upload a data file or enter a Hub dataset id.", "sources")
        who = acting_caller(caller)
        policy.check_sources(sources, who)
        loaded = []
        with policy.busy(who, "load"):
            for i, source in enumerate(sources):
                try:
                    loaded.append(load.load_source(source, token))
                except formats.NeedsMapping as exc:
                    exc.source_index = i
                    exc.what = f"{source.label}: {exc.what}"
                    raise
        policy.check_rows(sum(len(x.rows) for x in loaded))
        self.table = normalize.combine(loaded, form)
        self.sources = list(sources)
        self.source_info = [{"source": x.label, "format": x.format, "rows": len(x.rows)} for x in loaded]
        self.result = self.exploration = self.folder = self.pending = None
        return {"rows": len(self.table), "form": self.table.form, "sources": self.source_info,
                "preview": [self.table.record(i) for i in range(min(5, len(self.table)))],
                "warning": self.short_rows()}

    def short_rows(self) -> str:
        """The default fuzzy dedup's warning when most loaded rows are too short for it (from up to 10,000 rows)."""
        step = make_step("fuzzy_dedup")
        texts = self.table.texts(step.key)
        return short_rows_warning(texts[::max(1, len(texts) // 10_000)], step.shingle)

    @staticmethod
    def upload_sources(paths: list[str], owner: str = "") -> list[Source]:
        """Keep the browser's uploads (as `owner`'s, a lab.access key) and name them upload:HASH/NAME."""
        return [Source(path=uploads.ref(load.store_upload(p, owner))) for p in paths or []]

    def load_or_ask(self, sources: list[Source], form: str = "auto", token: str | None = None,
                    caller: Caller | None = None) -> dict:
        """load(), or — when a source's columns are ambiguous — what the column-mapping step needs."""
        try:
            return {"loaded": self.load(sources, form, token, caller)}
        except formats.NeedsMapping as exc:
            self.pending = (list(sources), exc.source_index, form)
            return {"mapping": {"why": exc.what, "columns": exc.columns, "candidates": exc.candidates}}

    def apply_mapping(self, fmt: str, mapping: dict[str, str], token: str | None = None,
                      caller: Caller | None = None) -> dict:
        """Reload with the user's format and column mapping for the ambiguous source."""
        if not self.pending:
            raise LabError("No source is waiting for a column mapping.", "Load a dataset first.", "columns")
        sources, index, form = self.pending
        fields = formats.get_format(fmt).fields
        clean = {k: v for k, v in mapping.items() if v and k in fields and v != k}
        sources[index] = sources[index].model_copy(update={"format": fmt, "columns": clean})
        return self.load_or_ask(sources, form, token, caller)

    # ---- run
    def needs_job(self, recipe: FilterRecipe) -> bool:
        rows = len(self.table) if self.table is not None else IN_PROCESS_ROWS + 1
        costs = {s.cost for s in recipe.steps if s.enabled}
        return rows > IN_PROCESS_ROWS or "model" in costs or ("embeds" in costs and rows > IN_PROCESS_EMBED_ROWS)

    def run_yaml(self, text: str, token: str | None = None, caller: Caller | None = None,
                 judge_key: str = "") -> dict:
        if not (text or "").strip():
            raise LabError("Nothing to run: no data is loaded.", "Load a file or a Hub dataset in step 1 first.",
                           "sources")
        return self.run(FilterRecipe.from_yaml(text), token, caller, judge_key)

    def run(self, recipe: FilterRecipe, token: str | None = None, caller: Caller | None = None,
            judge_key: str = "") -> dict:
        """Run in-process and return the review, or start a job (the caller's) and return {"job": id}. Refused
        before any work: a job on the public demo, a file this session did not load, anything lab.data.policy
        refuses this caller. `judge_key`: the API key the caller typed for an endpoint judge (never stored)."""
        who = acting_caller(caller)
        recipe = FilterRecipe.parse(recipe)
        as_job = self.needs_job(recipe)
        if as_job:
            check_allowed("data.run")
        self._check_files(recipe)
        policy.check_recipe(recipe, who)
        if as_job:
            job = submit_run(recipe, token, owner=who.key, judge_key=judge_key)
            self.recipe, self.job_id, self.folder, self.result = recipe, job.id, job.folder, None
            return {"job": job.id}
        same = self.table is not None and [s.model_dump() for s in recipe.sources] == \
            [s.model_dump() for s in self.sources]
        with policy.busy(who, "data run"):
            if same:
                table, info = self.table, self.source_info
            else:
                table, info = load_table(recipe, token, log=lambda m: None)
            policy.check_rows(len(table))
            self.result = pipeline.run(recipe, token, table=table, sources=info, log=lambda m: None, caller=who,
                              judge_key=judge_key)
        self.table, self.sources, self.source_info = table, list(recipe.sources), info
        self.recipe, self.folder, self.exploration, self.job_id = recipe, None, None, ""
        return export.review(self.result)

    def _check_files(self, recipe: FilterRecipe) -> None:
        """A browser session reads only the files it loaded (uploads), never other paths on the server."""
        loaded = {s.path for s in self.sources if s.path}
        for i, source in enumerate(recipe.sources):
            if source.path and source.path not in loaded:
                raise LabError(f"The recipe reads {source.label}, a file this session did not load.",
                               "Upload the file in step 1 (Load) first, or use a Hub dataset.", f"sources.{i}.path")

    def job_review(self) -> dict:
        return export.load_review(self.folder)

    # ---- export
    def export(self, name: str = "", owner: str | None = None) -> Path:
        """The run's dataset artifact (made now, as `owner`'s, unless a job made it or it was exported already)."""
        if self.job_id and self.folder is not None:
            return self.folder  # a job's folder is the artifact
        if self.result is None:
            raise LabError("Nothing to export yet.", "Run the filters first.", "export")
        if self.folder is None:
            self.folder = export.export(self.result, self.recipe, name, owner)
        return self.folder

    def download(self) -> Path:
        """The exported rows as JSON Lines in a temporary folder the browser may fetch."""
        return export.jsonl_download(self.export(), tempfile.mkdtemp(prefix="lab-data-"))

    # ---- explore
    def rows_for_clusters(self) -> np.ndarray:
        """The rows the clusters step sees: what was kept, plus what it dropped itself."""
        if self.result is None:
            raise LabError("Nothing to explore yet.", "Run the filters first (in this session).", "explore")
        dropped = [r["row"] for r in self.result.removed if r["reason"] == "dropped cluster"]
        return np.sort(np.concatenate([self.result.kept, np.array(dropped, dtype=np.int64)]))

    def explore(self, clusters_step, judge_step=None, token: str | None = None, progress=None,
                caller: Caller | None = None, judge_key: str = ""):
        """Cluster what reaches the clusters step, with its settings; the judge names clusters when it is on.
        The embedder and the judge are checked for the caller before anything loads or is called."""
        who = acting_caller(caller)
        clusters_step = clusters_step or make_step("clusters")
        judging = judge_step is not None and judge_step.enabled
        policy.check_embedder(who, clusters_step.model, "clusters.model")
        if judging:
            check_judge(judge_step, who)
        rows = self.rows_for_clusters()
        policy.check_rows(len(rows), "explore")
        with policy.busy(who, "exploration"):
            every = self.result.table.texts(clusters_step.key)
            judge = make_judge(judge_step, token, caller=who, key=judge_key,
                               budget_s=None if who.is_owner else VISITOR_JUDGE_S) if judging else None
            self.exploration = explore([every[i] for i in rows.tolist()], clusters_step.k, clusters_step.seed,
                                       clusters_step.model, judge, progress, clusters_step.method, token)
        self.explored_rows = rows
        return self.exploration

    def histograms(self):
        """(lengths figure, scores figure or None) of the kept rows."""
        import plotly.graph_objects as go  # heavy: plotly

        if self.result is None:
            raise LabError("Nothing to plot yet.", "Run the filters first (in this session).", "explore")
        kept = self.result.kept.tolist()
        fig = go.Figure()
        for key in ("prompt", "answer"):
            every = self.result.table.texts(key)
            fig.add_trace(go.Histogram(x=word_counts([every[i] for i in kept]), name=key, opacity=0.6, nbinsx=40))
        fig.update_layout(barmode="overlay", title="Length (words)", height=300, margin={"t": 40})
        scores = None
        if self.result.scores:
            scores = go.Figure([go.Histogram(x=v[kept][~np.isnan(v[kept])], name=k, opacity=0.6, nbinsx=20)
                                for k, v in self.result.scores.items()])
            scores.update_layout(barmode="overlay", title="Scores", height=300, margin={"t": 40})
        return fig, scores

    def cluster_rows(self, cluster: int, n: int = 50) -> list[list]:
        if self.exploration is None:
            raise LabError("No exploration yet.", "Press Explore first.", "explore")
        members = self.exploration.members(int(cluster))[:n]
        return [[int(self.explored_rows[m]), self.exploration.texts[m][:300]] for m in members.tolist()]
