"""What the parity run asks of the app, as a signed-in visitor would, over gradio_client."""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from gradio_client import Client, handle_file

from lab.settings import DEFAULT_MODEL
from lab.tour.core import STAGES

PROMPTS = ["How do I bake bread at home?", "How can I bake a loaf of bread at home?",  # a paraphrase
           "What is the capital of France?", "How do I train a puppy to sit?", "Which planets have rings?",
           "How do I fix a flat bicycle tyre?"]
CHAT_SETTINGS = ("", 0, 0.9, 16, 1.1, None, False)  # system, temperature, top_p, max new, rep, seed, 4-bit


def _table(value) -> list:
    """A Dataframe output's rows (it may come as an update: {"value": {"data": …}, "visible": …})."""
    if isinstance(value, dict):
        value = value.get("value", value)
    return value.get("data", []) if isinstance(value, dict) else list(value or [])


def tour(client: Client) -> dict:
    stages, _bar, replies = client.predict(api_name="/tour")[:3]
    done = stages.count("✔")
    if done != len(STAGES) or "✘" in stages:
        raise AssertionError(f"the tour did not finish: {stages}")
    rows = _table(replies)
    if not rows or not all(all(cell.strip() for cell in row) for row in rows):
        raise AssertionError(f"the tour's side-by-side replies are incomplete: {rows}")
    return {"stages_done": done, "replies": len(rows)}


def semantic_dedup(client: Client, workdir: Path) -> dict:
    data = workdir / "prompts.jsonl"
    data.write_text("".join(json.dumps({"instruction": p, "output": f"Answer {i}."}) + "\n"
                            for i, p in enumerate(PROMPTS)))
    _status, _preview, recipe, *_ = client.predict(files=[handle_file(str(data))], api_name="/data_load")
    spec = yaml.safe_load(recipe)
    spec["steps"] = [{"type": "semantic_dedup", "threshold": 0.8, "key": "prompt"},
                     {"type": "clusters", "enabled": False, "k": 2}]
    text = yaml.safe_dump(spec)
    run_status, *_rest = client.predict(text, api_name="/data_run")
    kept = len(PROMPTS) - 1
    if f"**{kept}** of {len(PROMPTS)} rows kept" not in run_status:
        raise AssertionError(f"semantic dedup did not remove the one paraphrase: {run_status}")
    _map, sizes, *_ = client.predict(text, api_name="/data_explore")
    if sum(row[2] for row in _table(sizes)) != kept:
        raise AssertionError(f"Explore did not cluster the kept rows: {sizes}")
    return {"rows": len(PROMPTS), "kept": kept, "clusters": len(_table(sizes))}


def chat(client: Client) -> dict:
    final = client.predict("What is the capital of France?", DEFAULT_MODEL, None, None, None, *CHAT_SETTINGS,
                           api_name="/chat")
    pane = [m for m in final[0] if m["role"] == "assistant"]
    reply = "".join(p.get("text", "") for p in pane[-1]["content"]) if pane else ""
    if "Paris" not in reply:
        raise AssertionError(f"the chat reply does not name Paris: {reply!r}")
    return {"reply": reply[:80]}


def served(fetched: list[str]) -> dict:
    """What the fake Hub served: both models' safetensors, and never a pickle."""
    wanted = {DEFAULT_MODEL: False, "sentence-transformers/all-MiniLM-L6-v2": False}
    for path in fetched:
        for repo in wanted:
            wanted[repo] |= path.startswith(f"/{repo}/") and path.endswith(".safetensors")
    pickles = [p for p in fetched if p.endswith((".bin", ".pt", ".pth", ".ckpt", ".pkl"))]
    if not all(wanted.values()) or pickles:
        raise AssertionError(f"the models did not come from the Hub as safetensors: {wanted}, pickles {pickles}")
    return {"safetensors_from_hub": sorted(wanted), "pickles": 0}
