"""Quality scores: a reward model (sequence classification, one label) and the score cache they share.

Scores are cached in LAB_HOME by (scorer, row hash): a re-run, or a run that shares rows with an earlier one,
scores nothing twice. A scorer's id covers every setting that changes its scores (model, rubric, ...).
"""
from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from contextlib import closing

import numpy as np

from lab.errors import LabError
from lab.models import resolve
from lab.models.info import read_config
from lab.models.resolve import config_folder
from lab.settings import get_settings


def scorer_id(settings: dict) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _db():
    path = get_settings().home / "cache" / "scores.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    con.execute("CREATE TABLE IF NOT EXISTS score (scorer TEXT, row TEXT, value REAL, reply TEXT, "
                "PRIMARY KEY (scorer, row))")
    return con


def cached(scorer: str, rows: list[str]) -> dict[str, float]:
    """Known scores (NaN for an unparseable judge reply, which is cached too: re-asking gives the same reply)."""
    out = {}
    with closing(_db()) as con:
        for s in range(0, len(rows), 900):
            part = rows[s:s + 900]
            q = f"SELECT row, value FROM score WHERE scorer=? AND row IN ({','.join('?' * len(part))})"
            out.update({r: (math.nan if v is None else v) for r, v in con.execute(q, (scorer, *part))})
    return out


def store(scorer: str, rows: list[str], values: list[float | None], replies: list[str] | None = None) -> None:
    replies = replies or [""] * len(rows)
    clean = [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]
    with closing(_db()) as con, con:
        con.executemany("INSERT OR REPLACE INTO score VALUES (?,?,?,?)",
                        [(scorer, r, v, t[:2000]) for r, v, t in zip(rows, clean, replies)])


def score_with_cache(scorer: str, hashes: list[str], items: list, score_batch, batch: int, progress=None):
    """Scores for every item: cached ones looked up, the rest computed by score_batch(items) in batches."""
    known = cached(scorer, list(dict.fromkeys(hashes)))
    todo = list(dict.fromkeys(h for h in hashes if h not in known))
    first = {h: i for i, h in reversed(list(enumerate(hashes)))}
    for s in range(0, len(todo), batch):
        part = todo[s:s + batch]
        values, replies = score_batch([items[first[h]] for h in part])
        store(scorer, part, values, replies)
        known.update({h: (math.nan if v is None else float(v)) for h, v in zip(part, values)})
        if progress:
            progress(min(1.0, (s + len(part)) / len(todo)), f"scored {s + len(part)}/{len(todo)}")
    return np.array([known[h] for h in hashes], dtype=float)


# ---- reward models
def check_reward_model(ref: str, token: str | None = None) -> None:
    """Refuse, from config.json alone, a model that is not a one-label sequence classifier."""
    cfg = read_config(config_folder(ref, token))
    archs = cfg.get("architectures") or []
    arch = archs[0] if archs else cfg.get("model_type", "unknown")
    if not str(arch).endswith("ForSequenceClassification"):
        raise LabError(f"{ref} is a {arch}, not a reward model: the lab scores with sequence-classification "
                       "models that give one score per answer.",
                       "Pick a reward model (…ForSequenceClassification with one label), e.g. "
                       "Skywork/Skywork-Reward-V2-Qwen3-0.6B.", "reward.model")
    labels = len(cfg.get("id2label") or {}) or int(cfg.get("num_labels", 2))  # transformers defaults to 2
    if labels != 1:
        raise LabError(f"{ref} is a classifier with {labels} labels; a reward model gives one score.",
                       "Pick a reward model with a single output (num_labels = 1).", "reward.model")


class RewardModel:
    def __init__(self, ref: str, max_length: int, token: str | None = None, log=print):
        import torch  # heavy: torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer  # heavy: transformers

        check_reward_model(ref, token)
        folder = resolve(ref, token=token, log=log)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model = AutoModelForSequenceClassification.from_pretrained(
            folder, dtype=dtype, trust_remote_code=False, use_safetensors=True).to(self.device).eval()
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tok.pad_token_id
        self.max_length = max_length

    def text(self, conversation: list[dict]) -> str:
        if getattr(self.tok, "chat_template", None):
            return self.tok.apply_chat_template(conversation, tokenize=False)
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in conversation)

    def __call__(self, conversations: list[list[dict]]) -> tuple[list[float], list[str]]:
        import torch  # heavy: torch

        batch = self.tok([self.text(c) for c in conversations], return_tensors="pt", padding=True,
                         truncation=True, max_length=self.max_length, add_special_tokens=False).to(self.device)
        with torch.no_grad():
            logits = self.model(**batch).logits.float()
        return logits[:, 0].tolist(), [""] * len(conversations)
