"""A custom benchmark from the user's rows: detect its kind, check every row, and write an lm-eval task.

The task is a YAML plus a JSON Lines file next to it (`dataset_path: json`, a relative `data_files`), and a shared
loader that reads `data_files` next to the YAML (lab.eval.task_data), so the folder runs with
`lm_eval --include_path DIR --tasks NAME` from any working directory, and the lab runs exactly these files.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lab import safe_regex
from lab.data.load import raw_rows
from lab.data.recipe import Source
from lab.errors import LabError
from lab.eval.filters import filter_list, until
from lab.eval.recipe import CustomTask

KINDS = {"multiple_choice": "acc", "exact_match": "exact_match", "judge": "score"}
FIELDS = {"multiple_choice": ("question", "choices", "answer"), "exact_match": ("prompt", "answer"),
          "judge": ("prompt",)}
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
LOADER = "lab_task_data.py"  # lab/eval/task_data.py, copied next to the YAMLs
LOADER_YAML = "_lab_task_data_yaml"  # what each task YAML includes: no .yaml suffix, so lm-eval indexes no task in it
LOADER_CONFIG = "# Reads the task's data_files next to its YAML, so lm_eval runs it from any folder.\n" \
                f"custom_dataset: !function {Path(LOADER).stem}.load\n"


@dataclass
class BuiltTask:
    """A custom task ready to run: its lm-eval YAML and rows, and the hash results are cached under."""
    name: str
    kind: str
    source: str
    yaml: str
    rows: list[dict] = field(repr=False)
    judged: bool = False
    spec: CustomTask | None = field(default=None, repr=False, compare=False)

    @property
    def metric(self) -> str:
        return KINDS[self.kind]

    @property
    def data_name(self) -> str:
        return f"{self.name}.jsonl"

    def data_text(self) -> str:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.rows)

    @property
    def hash(self) -> str:
        return hashlib.sha256((self.yaml + "\0" + self.data_text()).encode()).hexdigest()[:16]

    def write(self, folder: Path) -> Path:
        """name.yaml, name.jsonl and the shared data loader into folder; returns the YAML's path."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / self.data_name).write_text(self.data_text(), encoding="utf-8")
        shutil.copyfile(Path(__file__).with_name("task_data.py"), folder / LOADER)
        (folder / LOADER_YAML).write_text(LOADER_CONFIG, encoding="utf-8")
        path = folder / f"{self.name}.yaml"
        path.write_text(self.yaml, encoding="utf-8")
        return path

    def texts(self) -> list[str]:
        """Each item's question or prompt (the contamination check reads these)."""
        return [r.get("question") or r.get("prompt") or "" for r in self.rows]


def task_name(spec: CustomTask) -> str:
    raw = spec.name or Path(spec.hub or spec.path).stem.split(".")[0]
    name = spec.name or re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_").lower()
    name = name if name[:1].isalpha() else f"task_{name}"
    if not NAME_RE.match(name):
        raise LabError(f"{name!r} is not a usable task name.", "Use letters, digits and underscores, starting with "
                       "a letter (at most 64).", "name")
    return name


def read_rows(spec: CustomTask, token: str | None = None) -> tuple[list[dict], list[str]]:
    """(rows, where each row is: 'line 3' for files read by line, 'row 3' otherwise)."""
    source = Source(path=spec.path) if spec.path else Source(hub=spec.hub, config=spec.config, split=spec.split)
    rows = raw_rows(source, token)
    suffix = Path(spec.path).suffix.lower() if spec.path else ""
    if suffix == ".jsonl":
        lines = Path(spec.path).expanduser().read_text(encoding="utf-8").splitlines()
        where = [f"line {n}" for n, text in enumerate(lines, 1) if text.strip()]
    elif suffix == ".csv":
        where = [f"line {i + 2}" for i in range(len(rows))]  # line 1 is the header
    else:
        where = [f"row {i + 1}" for i in range(len(rows))]
    return rows, where


def detect(columns: set[str]) -> str:
    if {"question", "choices", "answer"} <= columns:
        return "multiple_choice"
    if {"prompt", "answer"} <= columns:
        return "exact_match"
    if "prompt" in columns:
        return "judge"
    raise LabError(f"The columns ({', '.join(sorted(columns)) or 'none'}) fit no benchmark kind.",
                   "Use question + choices + answer (multiple choice), prompt + answer (exact match), or prompt "
                   "with an optional reference (judged).", "kind")


def _missing(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _choices(value, where: str) -> list[str]:
    if isinstance(value, str):  # a CSV cell: a JSON list, or options separated by |
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [c for c in text.split("|")]
        except json.JSONDecodeError:
            raise LabError(f"{where}: `choices` is not a valid JSON list.", f"Fix `choices` on {where}: write "
                           '["A", "B"] or A | B.', "choices") from None
    if not isinstance(value, (list, tuple)) or not value or any(_missing(c) for c in value):
        raise LabError(f"{where}: `choices` is empty (or holds an empty choice).",
                       f"Give `choices` on {where} at least two non-empty options.", "choices")
    return [str(c).strip() for c in value]


def _answer_index(answer, choices: list[str], where: str) -> int:
    text = str(answer).strip()
    if text in choices:
        return choices.index(text)
    if isinstance(answer, int) and not isinstance(answer, bool) or text.isdigit():
        if 0 <= int(text) < len(choices):
            return int(text)
    raise LabError(f"{where}: `answer` {text!r} is not among the choices ({', '.join(choices)}).",
                   f"Fix `answer` on {where}: give the right choice's text or its index (0 for the first).", "answer")


def normalize(rows: list[dict], where: list[str], kind: str) -> list[dict]:
    """Rows in the task's own columns; the first bad row raises naming its line and field."""
    out = []
    for row, at in zip(rows, where):
        row = {str(k).strip().lower(): v for k, v in row.items()}
        for name in FIELDS[kind]:
            if _missing(row.get(name)) if name != "choices" else row.get(name) is None:
                raise LabError(f"{at}: the field `{name}` is missing or empty.",
                               f"Add `{name}` on {at} (a {kind.replace('_', ' ')} item needs "
                               f"{', '.join(FIELDS[kind])}).", name)
        if kind == "multiple_choice":
            choices = _choices(row["choices"], at)
            out.append({"question": str(row["question"]), "choices": choices,
                        "answer": _answer_index(row["answer"], choices, at)})
        elif kind == "exact_match":
            out.append({"prompt": str(row["prompt"]), "answer": str(row["answer"]).strip()})
        else:
            ref = row.get("reference", row.get("answer"))
            out.append({"prompt": str(row["prompt"]), "reference": "" if _missing(ref) else str(ref)})
    return out


def task_yaml(name: str, kind: str, spec: CustomTask, source: str) -> str:
    cfg = {"task": name, "include": LOADER_YAML, "dataset_path": "json",
           "dataset_kwargs": {"data_files": {"test": f"{name}.jsonl"}}, "test_split": "test"}
    if kind == "multiple_choice":
        cfg |= {"output_type": "multiple_choice", "doc_to_text": "Question: {{question}}\nAnswer:",
                "doc_to_choice": "{{choices}}", "doc_to_target": "{{answer}}",
                "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]}
    elif kind == "exact_match":
        cfg |= {"output_type": "generate_until", "doc_to_text": "{{prompt}}", "doc_to_target": "{{answer}}",
                "generation_kwargs": {"until": until(spec.extract), "max_gen_toks": spec.max_gen_toks or 32,
                                      "do_sample": False},
                "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                                 "ignore_case": spec.ignore_case, "ignore_punctuation": spec.ignore_punctuation,
                                 "regexes_to_ignore": ["^\\s+", "\\s+$"]}]}
        if filter_list(spec.extract, spec.regex):  # the same extraction for the lab and for lm_eval
            cfg["filter_list"] = filter_list(spec.extract, spec.regex)
    else:  # the answers are generated here; the judge scores them afterwards (lm-eval's bypass metric)
        cfg |= {"output_type": "generate_until", "doc_to_text": "{{prompt}}", "doc_to_target": "{{reference}}",
                "generation_kwargs": {"until": [], "max_gen_toks": spec.max_gen_toks or 256, "do_sample": False},
                "metric_list": [{"metric": "bypass"}]}
    cfg["metadata"] = {"version": 1.0}
    head = (f"# {kind.replace('_', ' ')} task made by the lab from {source}.\n"
            f"# Run it from any folder: lm_eval --model hf --model_args pretrained=MODEL --include_path "
            f"THIS_FOLDER --tasks {name}\n")
    return head + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)


def _check_regex(spec: CustomTask) -> None:
    """The extraction regex runs on RE2 in the eval worker (lab.eval.re2_filter): one RE2 cannot run is refused
    here, before the job, naming the field and the fix."""
    if spec.regex:
        safe_regex.check(spec.regex, "regex")


def build(spec: CustomTask, token: str | None = None) -> BuiltTask:
    """Read, detect, check and convert a custom benchmark (nothing is loaded or run)."""
    _check_regex(spec)
    name = task_name(spec)
    rows, where = read_rows(spec, token)
    columns = {str(k).strip().lower() for r in rows[:50] for k in r}
    kind = detect(columns) if spec.kind == "auto" else spec.kind
    items = normalize(rows, where, kind)
    return BuiltTask(name, kind, spec.label, task_yaml(name, kind, spec, spec.label), items, judged=kind == "judge",
                     spec=spec)
