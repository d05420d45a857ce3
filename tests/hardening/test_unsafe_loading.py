"""No remote code and no pickles: a model downloaded from the (fake) Hub goes through resolve, training, a merge
(with mergekit's LoRA path) and chat in this process, with every from_pretrained, torch.load, resolve and Hub
download recorded. trust_remote_code is never True, and torch.load never runs, except when a run resumes from
its checkpoint: then transformers reads the optimizer, scheduler and RNG state with torch.load(weights_only=True).

`.bin`-only repos are refused before any download: tests/integration/test_hub_download.py
(test_pickle_only_and_missing_repos_are_refused) and tests/integration/test_merge_hub.py.
"""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from lab.chat.prompt import build_messages
from lab.chat.registry import Registry
from lab.chat.spec import build_spec
from lab.chat.stream import collect
from lab.merge.worker import MergeOptions, merge
from lab.models import resolve
from lab.jobs.local import LocalContext
from lab.train.recipe import TrainRecipe
from lab.train.worker import train

PICKLE = b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94."


def test_resolve_train_merge_chat_never_run_remote_code_or_unpickle(fake_hub, bundled_model, mini_data, load_spy,
                                                                  lab_home):
    fake_hub.seed("acme/smol", folder=bundled_model, files={"pytorch_model.bin": PICKLE, "modeling_evil.py": b"!"})
    token = fake_hub.token
    folder = resolve("acme/smol", token=token, log=lambda m: None)
    assert not list(Path(folder).glob("*.bin")) and not list(Path(folder).glob("*.py"))

    recipe = TrainRecipe(model="acme/smol", dataset=str(mini_data), max_steps=1, batch_size=2, max_seq_length=64,
                         lora_r=4, save_steps=1)
    adapter = lab_home / "artifacts" / "adapter"
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert train(recipe, adapter, LocalContext(adapter), token=token)["steps"] == 1
    finally:  # LocalContext turns Ctrl-C into "save and stop": give this process its own handlers back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    trained_loads = len(load_spy.pretrained)

    text = f"merge_method: passthrough\nslices:\n  - sources:\n      - model: acme/smol+{adapter}\n" \
           "        layer_range: [0, 2]\n"
    merged = merge(text, lab_home / "artifacts" / "merged", MergeOptions(), token=token, log=lambda m: None)
    assert merged["layers"] == 2 and len(load_spy.pretrained) > trained_loads  # mergekit loaded through the spies

    spec = build_spec({"models": ["acme/smol", f"acme/smol+{adapter}", merged["out"]], "max_new_tokens": 3,
                       "temperature": 0})
    registry = Registry()
    try:
        replies = collect(spec.models, [build_messages("", [], "Hi")] * 3, spec, registry=registry, token=token)
    finally:
        registry.clear()
    assert [r.error for r in replies] == ["", "", ""] and all(r.text for r in replies)

    names = {name.split(".")[0] for name, _ in load_spy.pretrained}
    assert {"AutoModelForCausalLM", "AutoTokenizer", "PeftModel"} <= names, names  # the spies saw the loads
    assert load_spy.remote_code == []
    assert load_spy.torch_loads == []
    assert "acme/smol" in load_spy.resolves
    assert not [p for m, p in fake_hub.requests if p.endswith((".bin", ".py"))]


@pytest.mark.slow
def test_resume_reads_optimizer_and_rng_state_only_with_weights_only(bundled_model, mini_data, lab_home,
                                                                     monkeypatch):
    """The one torch.load the lab allows: a resume reads the checkpoint's optimizer, scheduler and RNG state,
    and every such read is torch.load(weights_only=True) (tensors and plain containers, never code)."""
    import torch
    from transformers import TrainerCallback

    class Crash(TrainerCallback):  # the worker dies in step 2, after checkpoint 1 was saved
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 2:
                raise RuntimeError("worker died")

    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **kw: calls.append((Path(f).name, kw)) or real_load(f, *a, **kw))
    out = lab_home / "artifacts" / "resumed"
    recipe = TrainRecipe(model=str(bundled_model), dataset=str(mini_data), batch_size=2, max_seq_length=64, lora_r=4,
                         save_steps=1, max_steps=2)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(RuntimeError, match="worker died"):
            train(recipe, out, LocalContext(out), callbacks=(Crash(),))
        assert calls == []  # a fresh run loads nothing with torch.load
        assert train(recipe, out, LocalContext(out))["steps"] == 2
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    names = {name for name, _ in calls}
    assert {"optimizer.pt", "rng_state.pth"} <= names, names
    assert all(kw.get("weights_only") is True for _, kw in calls), calls
