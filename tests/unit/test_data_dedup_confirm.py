"""Fuzzy dedup keeps its promise: a row goes only when the true Jaccard of its word shingles with a kept row reaches
the threshold, however MinHash estimated it. Templated arithmetic rows (issue 26), real Alpaca rows."""
import json

import numpy as np
from datasketch import MinHash, MinHashLSH

from lab.data.dedup_confirm import ShingleSets, short_rows_warning, true_jaccard
from lab.data.dedup_fuzzy import fuzzy_duplicates, signatures
from lab.data.export import card_summary
from lab.data.pipeline import run
from lab.data.recipe import FilterRecipe

ASK = "Reply with just the number."  # five words: "9 + 3" and "9 minus 3" then share 7 of 12 word pairs
PLUS, MINUS = f"{ASK} What is 9 + 3?\n12", f"{ASK} What is 9 minus 3?\n6"


def arithmetic_rows() -> list[dict]:
    """a minus b, then a + b, for a = 9 and 10 to 99 (b from 1 to 9, set by a: 9 ± 3 is there), then a true
    near-duplicate (one word added) of every 15th row. No two of the first 182 rows reach 0.6 by true Jaccard."""
    rows = []
    for a in [9, *range(10, 100)]:
        b = (a + 2) % 9 + 1
        rows += [{"instruction": f"{ASK} What is {a} minus {b}?", "input": "", "output": str(a - b)},
                 {"instruction": f"{ASK} What is {a} + {b}?", "input": "", "output": str(a + b)}]
    copies = [{**r, "instruction": r["instruction"].replace("number.", "number please.")} for r in rows[::15]]
    return rows + copies


def texts_of(rows: list[dict]) -> list[str]:
    return [r["instruction"] + "\n" + r["output"] for r in rows]  # the "sample" text of an Alpaca row


def reference(texts: list[str], threshold: float = 0.6) -> tuple[list[int], int]:
    """(dropped rows, rejected pairs) from datasketch's LSH: the earliest row sharing a bucket first (when kept and
    estimated over the threshold), then the other kept candidates, most similar first; each checked by true
    Jaccard until one confirms."""
    sig, sets = signatures(texts), ShingleSets.of_texts(texts)
    every, mine = MinHashLSH(threshold=threshold, num_perm=128), MinHashLSH(threshold=threshold, num_perm=128)
    kept, dropped, rejected = set(), [], 0
    for i in range(len(texts)):
        m = MinHash(num_perm=128, hashvalues=sig[i], scheme="affine32")
        est = {k: float((sig[k] == sig[i]).mean()) for k in every.query(m)}
        order = []
        if est and min(est) in kept and est[min(est)] >= threshold:
            order.append(min(est))
        order += sorted((k for k in mine.query(m) if k not in order and est[k] >= threshold), key=lambda k: (-est[k], k))
        for k in order:
            if sets.jaccard(k, i) >= threshold:
                dropped.append(i)
                break
            rejected += 1
        else:
            mine.insert(i, m)
            kept.add(i)
        every.insert(i, m)
    return dropped, rejected


def test_the_issues_pair_is_under_the_threshold_by_the_labs_shingles():
    assert true_jaccard(PLUS, MINUS) == 7 / 12  # 0.58, under 0.6
    sig = signatures([MINUS, PLUS])
    assert (sig[0] == sig[1]).mean() >= 0.6  # …yet MinHash estimates it over
    assert fuzzy_duplicates([MINUS, PLUS], confirm=False)[0].tolist() == [-1, 0]  # the estimate alone drops it
    dup, _, rejected = fuzzy_duplicates([MINUS, PLUS])
    assert dup.tolist() == [-1, -1] and rejected == 1


def test_templated_arithmetic_keeps_distinct_sums_and_drops_true_copies():
    rows = arithmetic_rows()
    texts = texts_of(rows)
    estimate_only = fuzzy_duplicates(texts, confirm=False)[0]
    dup, sim, rejected = fuzzy_duplicates(texts)
    plus = texts.index(PLUS)
    assert estimate_only[plus] == texts.index(MINUS)  # the estimate's false positive of the issue…
    assert dup[plus] == -1  # …is kept now
    dropped = np.flatnonzero(dup >= 0)
    copies = list(range(182, len(texts)))
    assert dropped.tolist() == copies  # exactly the true near-duplicates go, each matched to its original
    sets = ShingleSets.of_texts(texts)
    assert max(sets.jaccard(j, k) for j in range(182) for k in range(j)) < 0.6
    assert [texts[dup[i]] for i in copies] == texts_of(arithmetic_rows()[:182:15])
    for i in dropped:
        assert true_jaccard(texts[i], texts[dup[i]]) == sim[i] >= 0.6
    assert len(np.flatnonzero(estimate_only >= 0)) > len(dropped)  # the estimate alone drops distinct sums
    assert (dropped.tolist(), rejected) == reference(texts)
    assert rejected == 21


def test_the_pipeline_reports_the_rejected_candidates(tmp_path):
    path = tmp_path / "arithmetic.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in arithmetic_rows()))
    recipe = FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": [{"type": "fuzzy_dedup"}]})
    said = []
    result = run(recipe, log=said.append)
    step = result.report()["funnel"][0]
    assert step["removed"] == 13 and step["note"] == "21 candidate pairs rejected: true Jaccard under 0.6"
    assert step["warning"] == ""  # ten words a row: enough shingles
    assert "fuzzy dedup: 21 candidate pairs rejected: true Jaccard under 0.6" in said  # the log (a job's, the CLI's)
    assert "| 1. Fuzzy dedup (MinHash) | 195 | 182 | 13 | 21 candidate pairs rejected" in card_summary(result)


def test_short_rows_are_warned_about(tmp_path, alpaca_path):
    short = [{"instruction": f"What is {a} + {b}?", "input": "", "output": str(a + b)}
             for a in range(10) for b in range(10)]
    path = tmp_path / "short.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in short))
    recipe = FilterRecipe.parse({"sources": [{"path": str(path)}],
                                 "steps": [{"type": "fuzzy_dedup", "key": "prompt"}]})
    result = run(recipe, log=lambda m: None)
    warning = result.report()["funnel"][0]["warning"]
    assert warning.startswith("100% of the rows have fewer than 5 words") and "unreliable" in warning
    assert f"> ⚠️ 1. Fuzzy dedup (MinHash): {warning}" in card_summary(result)  # the dataset's card says it too
    assert short_rows_warning([r["instruction"] for r in short], shingle=1) == ""  # 4 words: 4 one-word shingles
    alpaca = json.loads(alpaca_path.read_text())
    assert short_rows_warning([r["instruction"] + "\n" + r["output"] for r in alpaca], 2) == ""
