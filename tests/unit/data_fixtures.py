"""Small datasets the data tests write themselves, so the logic is covered even without ../shared/data."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

TOPICS = ["baking bread", "planting tomatoes", "saving money", "learning chess", "fixing a bike", "writing poems",
          "training a puppy", "brewing coffee", "painting walls", "running a marathon", "reading maps",
          "cleaning windows", "knitting scarves", "growing basil", "camping safely", "sorting laundry"]
WORDS = ("apple river stone quick bright candle orbit forest silver window garden rocket pencil thunder violet "
         "harbor meadow lantern copper winter summer ocean mountain desert valley castle bridge tunnel market "
         "village engine signal mirror shadow feather marble pepper ginger walnut cedar maple falcon dolphin "
         "tiger zebra puzzle rhythm melody canvas sculpture theory method system process data signal answer "
         "question reason careful gentle steady simple complex modern ancient hidden visible").split()


def sentences(n: int, seed: int = 0, words: int = 40) -> list[str]:
    """n distinct pseudo-texts of `words` words each (pairwise Jaccard of word pairs well below 0.2)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) + "." for _ in range(n)]


def alpaca_rows() -> tuple[list[dict], dict]:
    """Alpaca rows: 16 distinct, 4 surplus copies (case/space variants), 3 with "as an AI" answers."""
    rows = [{"instruction": f"Give three tips about {t}.", "input": "",
             "output": f"1. Start {t} slowly. 2. Practise {t} daily. 3. Ask an expert about {t}."}
            for t in TOPICS]
    for i in (0, 0, 5, 9):  # copies: case and whitespace differ, text does not
        copy = dict(rows[i])
        copy["instruction"] = "  " + copy["instruction"].upper()
        copy["output"] = copy["output"].replace(" ", "  ")
        rows.append(copy)
    rows += [{"instruction": q, "input": "", "output": a} for q, a in (
        ("Tell me your opinion on cats.", "As an AI, I do not have personal opinions about pets."),
        ("What is your favourite jazz album?", "As an ai I cannot listen to music, but Kind of Blue is admired."),
        ("Do you enjoy the rain?", "Weather means nothing to me as an AI language model; rain helps crops grow."))]
    return rows, {"rows": len(rows), "duplicates": 4, "refusals": 3, "kept": len(rows) - 7}


def write_alpaca(path: Path) -> tuple[Path, dict]:
    rows, expected = alpaca_rows()
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path, expected


def sharegpt_dpo_rows() -> list[dict]:
    """ShareGPT-style preference rows (conversations + chosen/rejected dicts), one with a system turn."""
    rows = []
    for i, t in enumerate(TOPICS[:6]):
        convo = [{"from": "human", "value": f"How do I get better at {t}?"}]
        if i == 0:
            convo.insert(0, {"from": "system", "value": "You are a patient coach."})
        if i == 1:
            convo += [{"from": "gpt", "value": "Which part is hard?"}, {"from": "human", "value": "The start."}]
        rows.append({"conversations": convo, "chosen": {"from": "gpt", "value": f"Practise {t} a little daily."},
                     "rejected": {"from": "gpt", "value": "No idea."}})
    return rows


def perturbed_mix(originals: list[str], seed: int = 0) -> tuple[list[str], list[int]]:
    """Originals plus, for each, a copy with one word changed and a copy with punctuation altered; shuffled.

    Returns (texts, family of each text)."""
    rng = random.Random(seed)
    vocab = sorted({w for t in originals for w in re.findall(r"[A-Za-z]+", t)})
    rows = [(t, i) for i, t in enumerate(originals)]
    for i, t in enumerate(originals):
        words = t.split(" ")
        k = rng.randrange(len(words))
        op = rng.choice(["replace", "delete", "insert"])
        if op == "replace":
            words[k] = rng.choice(vocab)
        elif op == "delete" and len(words) > 1:
            del words[k]
        else:
            words.insert(k, rng.choice(vocab))
        rows.append((" ".join(words), i))
        style = rng.choice(["strip", "swap", "add"])
        punct = re.sub(r"[.,;:!?]", "", t) if style == "strip" else \
            t.replace(".", "!").replace(",", ";") if style == "swap" else t + " !!"
        rows.append((punct, i))
    rng.shuffle(rows)
    return [r[0] for r in rows], [r[1] for r in rows]
