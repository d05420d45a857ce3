"""The filter steps' logic: each looks at the rows still kept and says which to remove, and why.

A step gets its settings (a lab.data.step_specs model) and a Context, and returns an Outcome over ctx.idx (the
kept rows, in order). Duplicates name the kept row they duplicate (a global row index). Each function is
registered for its settings class with @runs(...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from lab.data import rules, step_specs as spec
from lab.data.dedup_confirm import rejected_note, short_rows_warning
from lab.data.dedup_exact import exact_duplicates
from lab.data.dedup_fuzzy import fuzzy_duplicates
from lab.data.dedup_semantic import semantic_duplicates
from lab.data.embed import embed
from lab.data.explore import clusters as kmeans
from lab.data.judge import judge_prompt, make_judge, parse_score
from lab.data.normalize import Table, split_turns
from lab.data.scoring import RewardModel, check_reward_model, score_with_cache, scorer_id

STEPS: dict[str, Callable[..., "Outcome"]] = {}  # step type -> its function


def runs(settings: type):
    """Register the decorated function as the logic of the step whose settings class is `settings`."""
    def register(fn):
        STEPS[settings.model_fields["type"].default] = fn
        return fn
    return register


@dataclass
class Context:
    table: Table
    idx: np.ndarray  # global indices of the rows this step sees
    token: str | None = None
    log: Callable = print
    progress: Callable = lambda fraction, message="": None
    scores: dict = field(default_factory=dict)  # column name -> scores over all rows (NaN: not scored)
    caller: object = None  # the lab.access.Caller the steps act for (None: the job's, in its worker)
    judge_key: str | None = field(default=None, repr=False)  # the API key typed for an endpoint judge

    def texts(self, key: str) -> list[str]:
        every = self.table.texts(key)
        return [every[i] for i in self.idx.tolist()]


@dataclass
class Outcome:
    remove: np.ndarray  # bool, one per ctx.idx row
    reasons: np.ndarray  # str, why each removed row went
    dup_of: np.ndarray | None = None  # global index of the kept row a duplicate matches (-1: none)
    value: np.ndarray | None = None  # what the step measured (similarity, tokens, score)
    detail: list[str] | None = None  # per row, e.g. the refusal phrase found
    note: str = ""
    warning: str = ""  # what the user should know about the result (the Data tab shows it beside the run)


def _dedup(ctx: Context, dup_local: np.ndarray, sim, reason: str) -> Outcome:
    remove = dup_local >= 0
    dup_of = np.where(remove, ctx.idx[np.maximum(dup_local, 0)], -1)
    return Outcome(remove, np.where(remove, reason, ""), dup_of, sim)


@runs(spec.ExactDedup)
def exact_dedup(step, ctx: Context) -> Outcome:
    return _dedup(ctx, exact_duplicates(ctx.texts(step.key)), None, "exact duplicate")


@runs(spec.FuzzyDedup)
def fuzzy_dedup(step, ctx: Context) -> Outcome:
    texts = ctx.texts(step.key)
    dup, sim, rejected = fuzzy_duplicates(texts, step.threshold, step.shingle, step.num_perm, step.seed,
                                          progress=lambda f: ctx.progress(0.9 * f, "MinHash signatures"))
    outcome = _dedup(ctx, dup, sim, "near duplicate (MinHash)")
    outcome.note = rejected_note(rejected, step.threshold)
    outcome.warning = short_rows_warning(texts, step.shingle)
    for said in (outcome.note if rejected else "", outcome.warning):
        if said:
            ctx.log(f"fuzzy dedup: {said}")
    return outcome


@runs(spec.SemanticDedup)
def semantic_dedup(step, ctx: Context) -> Outcome:
    vectors = embed(ctx.texts(step.key), step.model, step.batch_size,
                    progress=lambda f: ctx.progress(0.95 * f, "embedding"), token=ctx.token)
    dup, sim = semantic_duplicates(vectors, step.threshold)
    return _dedup(ctx, dup, sim, "semantic duplicate")


@runs(spec.Refusals)
def refusals(step, ctx: Context) -> Outcome:
    remove, found = rules.refusals(ctx.texts(step.key), step.phrases)
    return Outcome(remove, np.where(remove, "refusal/boilerplate", ""), detail=found)


@runs(spec.Length)
def length(step, ctx: Context) -> Outcome:
    tok = rules.load_tokenizer(step.tokenizer, ctx.token)
    counts = rules.token_counts(ctx.texts(step.key), tok)
    short, long = rules.length(counts, step.min_tokens, step.max_tokens)
    reasons = np.where(short, f"shorter than {step.min_tokens} tokens", np.where(long, f"longer than "
                                                                                 f"{step.max_tokens} tokens", ""))
    return Outcome(short | long, reasons, value=counts)


@runs(spec.Regex)
def regex(step, ctx: Context) -> Outcome:
    missing, excluded = rules.regex(ctx.texts(step.key), step.include, step.exclude, step.ignore_case)
    reasons = np.where(missing, "regex: no include match", np.where(excluded, "regex: exclude match", ""))
    return Outcome(missing | excluded, reasons)


@runs(spec.EmptyAnswers)
def empty(step, ctx: Context) -> Outcome:
    form = ctx.table.form
    answers = []
    for i in ctx.idx.tolist():
        _, answer, other = split_turns(ctx.table.rows[i], form)
        texts = ["\n".join(m["content"] for m in answer)]
        if form == "preference":
            texts.append("\n".join(m["content"] for m in other))
        answers.append(texts)
    remove = rules.empty(answers, step.min_chars)
    return Outcome(remove, np.where(remove, "empty answer", ""))


def _once(factory):
    """factory() on first use only: a run whose scores are all cached loads no model."""
    made = []
    return lambda: made[0] if made else (made.append(factory()) or made[0])


def _conversations(ctx: Context) -> list[list[dict]]:
    out = []
    for i in ctx.idx.tolist():
        prompt, answer, _ = split_turns(ctx.table.rows[i], ctx.table.form)
        out.append(prompt + answer)
    return out


@runs(spec.Reward)
def reward(step, ctx: Context) -> Outcome:
    check_reward_model(step.model, ctx.token)  # before anything is loaded or scored
    model = _once(lambda: RewardModel(step.model, step.max_length, ctx.token, ctx.log))
    sid = scorer_id({"reward": step.model, "max_length": step.max_length})
    hashes = [ctx.table.hashes()[i] for i in ctx.idx.tolist()]
    scores = score_with_cache(sid, hashes, _conversations(ctx), lambda batch: model()(batch), step.batch_size,
                              ctx.progress)
    cut = step.threshold if step.threshold is not None else np.nanpercentile(scores, 100 - step.top_percent)
    remove = ~(scores >= cut)
    _record(ctx, "reward_score", scores)
    return Outcome(remove, np.where(remove, "low reward score", ""), value=scores, note=f"cut-off {cut:.3f}")


@runs(spec.Judge)
def judge(step, ctx: Context) -> Outcome:
    ask = _once(lambda: make_judge(step, ctx.token, ctx.log, ctx.caller, ctx.judge_key))
    sid = scorer_id({"judge": step.model, "backend": step.backend, "endpoint": step.endpoint,
                     "rubric": step.rubric, "max_new_tokens": step.max_new_tokens})
    prompts = [judge_prompt(step.rubric, p, a) for p, a in zip(ctx.texts("prompt"), ctx.texts("answer"))]

    def score_batch(batch: list[str]):
        replies = ask()(batch)
        return [parse_score(r) for r in replies], replies

    hashes = [ctx.table.hashes()[i] for i in ctx.idx.tolist()]
    scores = score_with_cache(sid, hashes, prompts, score_batch, 8, ctx.progress)
    unscored = np.isnan(scores)
    low = ~unscored & (scores < step.min_score)
    remove = low | (unscored & step.drop_unscored)
    _record(ctx, "judge_score", scores)
    reasons = np.where(low, "low judge score", np.where(remove, "unscored (judge reply had no score)", ""))
    return Outcome(remove, reasons, value=scores, note=f"{int(unscored.sum())} unscored")


@runs(spec.Clusters)
def clusters(step, ctx: Context) -> Outcome:
    vectors = embed(ctx.texts(step.key), step.model, progress=lambda f: ctx.progress(0.9 * f, "embedding"),
                    token=ctx.token)
    labels = kmeans(vectors, step.k, step.seed, step.method)
    remove = np.isin(labels, step.drop)
    return Outcome(remove, np.where(remove, "dropped cluster", ""), value=labels.astype(float))


def _record(ctx: Context, column: str, values: np.ndarray) -> None:
    full = ctx.scores.setdefault(column, np.full(len(ctx.table), np.nan))
    full[ctx.idx] = values

