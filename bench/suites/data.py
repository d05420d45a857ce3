"""Data (issue 5): exact + MinHash dedup against a datasketch loop and against datasketch's MinHash.bulk;
semantic-dedup embedding throughput against a raw sentence-transformers encode."""
from __future__ import annotations

from bench.core import Pair, side


def pairs(quick: bool) -> list[Pair]:
    rows, texts, scale = (10_000, 1_000, 100_000) if quick else (100_000, 10_000, 1_000_000)
    dedup_rows = side("sides/data_rows.py", "--rows", rows, "--out", "{tmp}/rows.jsonl")
    prompt_rows = side("sides/data_rows.py", "--rows", texts, "--out", "{tmp}/prompts.jsonl", "--prompts")
    scale_rows = side("sides/data_rows.py", "--rows", scale, "--out", "{tmp}/scale.jsonl", "--synthetic")
    return [
        Pair("dedup", side("sides/data_filter.py", "dedup", "{tmp}/rows.jsonl"),
             side("baselines/dedup_datasketch_loop.py", "{tmp}/rows.jsonl", "{tmp}/base_out.jsonl",
                  "{tmp}/baseline_removed.json"),
             reps=3, quick_reps=2, setup=dedup_rows, timeout_s=600,
             compare={"duplicates": "higher", "overlap": "higher"},
             targets={"wall_s": 12, "rss_mb": 2048, "wall_ratio": 1 / 6, "overlap": 1.0},
             note=f"`python -m lab data filter ROWS --exact --fuzzy 0.6` on {rows} Alpaca rows replicated with "
                  "seeded one-word edits, against a datasketch loop (one MinHash.update per shingle, LSH query "
                  "+ jaccard check, each passing candidate confirmed by its true shingle Jaccard, as the lab does) "
                  "on the same text; overlap = Jaccard of the removed-row sets (from rep 2); rejected = candidate "
                  "pairs the lab's true-Jaccard check turned down."),
        Pair("dedup_bulk", side("sides/data_filter.py", "dedup", "{tmp}/rows.jsonl"),
             side("baselines/dedup_datasketch_loop.py", "{tmp}/rows.jsonl", "{tmp}/base_out.jsonl",
                  "{tmp}/baseline_removed.json", "--bulk"),
             reps=3, quick_reps=2, setup=dedup_rows, timeout_s=600,
             compare={"duplicates": "higher", "overlap": "higher"},
             targets={"wall_ratio": 1.0, "overlap": 1.0},
             note=f"The same lab run on {rows} rows against datasketch's batch API: the same script with every "
                  "signature from one `MinHash.bulk` call instead of a per-shingle update() loop."),
        Pair("semantic_embed", side("sides/data_filter.py", "semantic", "{tmp}/prompts.jsonl"),
             side("baselines/st_encode.py", "{tmp}/prompts.jsonl"),
             reps=3, quick_reps=2, setup=prompt_rows, timeout_s=600, env={"HF_HUB_OFFLINE": "1"},
             compare={"texts_per_s": "higher", "step_s": "lower"}, targets={"texts_per_s_ratio": 0.9, "step_s": 40},
             note=f"`python -m lab data filter PROMPTS --semantic 0.95` on {texts} distinct prompt-length texts "
                  "(fresh LAB_HOME: nothing cached) against `model.encode(texts)` of all-MiniLM-L6-v2; "
                  "texts_per_s = texts / the semantic step's time (embedding + cache + search); step_s is how long "
                  "the texts take (the issue's 40 s), wall_s adds the process start, imports and file loading."),
        Pair("datatrove", side("sides/data_engine.py", "{tmp}/scale.jsonl", "datatrove", 4, 2),
             side("sides/data_engine.py", "{tmp}/scale.jsonl", "memory"),
             reps=1, quick_reps=1, setup=scale_rows, timeout_s=3600, compare={"kept": "higher", "overlap": "higher"},
             note=f"`python -m lab data run RECIPE --engine datatrove --tasks 4 --workers 2` against the in-memory "
                  f"engine (`data run RECIPE`) on {scale} synthetic rows (a fifth near-duplicates, a twentieth exact "
                  "copies): exact dedup, fuzzy dedup 0.6 and refusals; rss_mb sums the process tree (the CLI and "
                  "its datatrove workers); overlap = Jaccard of the two engines' kept rows, reported by whichever side "
                  "runs second."),
    ]
