"""The merge methods listed as supported that the SmolLM2 merges don't cover (NuSLERP, DELLA, breadcrumbs, DARE
linear, Model Stock, and Franken-MoE with random and cheap_embed gates), each run for real through the lab's
merge on tiny Llamas: the result loads and computes, and its tensors are what the method promises."""
from __future__ import annotations

import pytest
import torch

from lab.merge.worker import MergeOptions, merge
from tests.merge_support import tensors, tiny_model

UP = "model.layers.0.mlp.up_proj.weight"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, bundled_model):
    root = tmp_path_factory.mktemp("tiny")
    base = tiny_model(root / "base", bundled_model, seed=0)
    return {"base": base, "ft1": tiny_model(root / "ft1", bundled_model, 1, like=base),
            "ft2": tiny_model(root / "ft2", bundled_model, 2, like=base), "root": root}


def _merge(tiny, name: str, text: str) -> dict:
    """Merge, load the result in transformers, run it once; returns its tensors."""
    from transformers import AutoModelForCausalLM

    out = tiny["root"] / name
    result = merge(text.format(**tiny), out, MergeOptions(random_seed=0), log=lambda m: None)
    assert result["out"] == str(out) or result["out"] == str(out.resolve())
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[1, 2, 3, 4]])).logits
    assert torch.isfinite(logits).all() and all(torch.isfinite(p).all() for p in model.parameters())
    return {"tensors": tensors(out), "model": model}


def test_nuslerp_interpolates_and_its_end_is_the_first_model(tiny):
    both = "models:\n  - model: {base}\n    parameters: {{weight: {w0}}}\n  - model: {ft1}\n" \
           "    parameters: {{weight: {w1}}}\nmerge_method: nuslerp\ndtype: float32\n"
    base, ft = tensors(tiny["base"])[UP], tensors(tiny["ft1"])[UP]
    half = _merge(tiny, "nuslerp", both.replace("{w0}", "0.5").replace("{w1}", "0.5"))["tensors"][UP]
    assert not torch.allclose(half, base) and not torch.allclose(half, ft)
    assert (half - (base + ft) / 2).abs().max() < (ft - base).abs().max() / 2  # between the two
    end = _merge(tiny, "nuslerp_end", both.replace("{w0}", "1.0").replace("{w1}", "0.0"))["tensors"][UP]
    assert torch.allclose(end, base, atol=1e-6)


DELTA = "models:\n  - model: {{ft1}}\n    parameters: {{{{weight: 1.0, density: {density}{extra}}}}}\n" \
        "merge_method: {method}\nbase_model: {{base}}\nparameters: {{{{normalize: false}}}}\ndtype: float32\n"


@pytest.mark.parametrize("method, extra", [("della", "epsilon"), ("breadcrumbs", "gamma"), ("dare_linear", "")])
def test_della_breadcrumbs_and_dare_add_the_task_vector_and_prune_it(tiny, method, extra):
    base, ft = tensors(tiny["base"])[UP], tensors(tiny["ft1"])[UP]
    whole = _merge(tiny, f"{method}_all", DELTA.format(method=method, density=1.0, extra=extra and f", {extra}: 0.0"))
    assert torch.allclose(whole["tensors"][UP], ft, atol=1e-6)  # nothing pruned: base + the whole task vector
    pruned = _merge(tiny, method, DELTA.format(method=method, density=0.5,
                                               extra=extra and f", {extra}: 0.05"))["tensors"][UP]
    kept_base = (pruned == base).float().mean().item()
    assert 0.4 < kept_base < 0.6  # about half of the differences pruned back to the base


def test_model_stock_moves_the_base_towards_the_fine_tunes_centre(tiny, bundled_model):
    """Two fine-tunes that share a direction (both start from `mid`): Model Stock moves the base along their
    mean by t = 2c / (1 + c), c being the cosine between their task vectors."""
    mid = tiny_model(tiny["root"] / "mid", bundled_model, 3, like=tiny["base"])
    tiny = {**tiny, "a": tiny_model(tiny["root"] / "a", bundled_model, 4, like=mid),
            "b": tiny_model(tiny["root"] / "b", bundled_model, 5, like=mid)}
    text = "models:\n  - model: {base}\n  - model: {a}\n  - model: {b}\nmerge_method: model_stock\n" \
           "base_model: {base}\ndtype: float32\n"
    base, a, b = (tensors(tiny[k])[UP] for k in ("base", "a", "b"))
    moved, towards = _merge(tiny, "model_stock", text)["tensors"][UP] - base, (a + b) / 2 - base
    cos = lambda x, y: torch.nn.functional.cosine_similarity(x.flatten(), y.flatten(), dim=0)  # noqa: E731
    c = cos(a - base, b - base)
    assert 0.3 < c < 0.7 and cos(moved, towards) > 0.999
    assert abs(moved.norm() / towards.norm() - 2 * c / (1 + c)) < 0.01


MOE = "base_model: {base}\ngate_mode: {gate}\ndtype: float32\nexperts:\n" \
      "  - source_model: {ft1}\n    positive_prompts: [\"write a poem about the sea\"]\n" \
      "  - source_model: {ft2}\n    positive_prompts: [\"python code for a web server\"]\n"


@pytest.mark.parametrize("gate", ["random", "cheap_embed"])
def test_moe_gates_build_a_mixtral_whose_experts_are_the_sources(tiny, gate):
    built = _merge(tiny, f"moe_{gate}", MOE.replace("{gate}", gate))
    out, model = built["tensors"], built["model"]
    assert type(model).__name__ == "MixtralForCausalLM" and model.config.num_local_experts == 2
    for i, name in enumerate(("ft1", "ft2")):
        src = tensors(tiny[name])
        assert torch.equal(out["model.layers.1.mlp.experts.down_proj"][i], src["model.layers.1.mlp.down_proj.weight"])
    gate_w = out["model.layers.0.mlp.gate.weight"]
    assert gate_w.shape == (2, 64) and not torch.allclose(gate_w[0], gate_w[1])
    if gate == "cheap_embed":  # each row points at its prompts' summed token embeddings
        from transformers import AutoTokenizer

        tok, embed = AutoTokenizer.from_pretrained(tiny["base"]), tensors(tiny["base"])["model.embed_tokens.weight"]
        prompts = ["write a poem about the sea", "python code for a web server"]
        sums = torch.stack([embed[tok(p).input_ids].sum(0) for p in prompts])
        cos = torch.nn.functional.normalize(gate_w, dim=1) @ torch.nn.functional.normalize(sums, dim=1).T
        assert cos[0, 0] > cos[0, 1] and cos[1, 1] > cos[1, 0]
