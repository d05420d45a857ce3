"""In a real browser, the Merge tab's "Extract a LoRA": a base that is not the model's base is refused at Check,
naming the first mismatch; the right base passes Check with the layers to decompose; Extract runs as a job whose
result (the relative error) and new adapter artifact show, and a reload with ?job= follows it."""
from __future__ import annotations

from lab.artifacts import finalize, new_folder
from tests.merge_support import BASE_ID, tiny_model
from tests.ui.test_hub_browser import page  # noqa: F401


def _pick(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")


def test_extract_a_lora_check_refuses_a_wrong_base_then_extracts(app_url, page, bundled_model,
                                                                 tmp_path):  # noqa: F811
    base = tiny_model(tmp_path / "tiny-base", bundled_model, seed=0)  # a 2-layer Llama with SmolLM2's vocabulary
    tuned = tiny_model(new_folder("model", "tiny-ft"), bundled_model, seed=1, like=base, noise=0.1)
    finalize(tuned, "model", [], step="sft")  # a full fine-tune artifact, as the Train tab leaves one
    page.goto(app_url)
    page.get_by_role("tab", name="Merge").click()
    page.get_by_text("Extract a LoRA").first.click()
    _pick(page, "Full model", "tiny-ft")
    _pick(page, "Its base", BASE_ID)  # the same vocabulary, other sizes: not its base
    page.get_by_role("button", name="Check", exact=True).last.click()
    page.get_by_text("not this model's base").first.wait_for(timeout=60000)
    assert page.get_by_text("model.embed_tokens.weight").first.is_visible()  # the first mismatch, named

    _pick(page, "Its base", str(base))
    page.get_by_label("Rank", exact=True).fill("8")
    page.get_by_role("button", name="Check", exact=True).last.click()
    page.locator("#extract-note").get_by_text("linear layers to decompose").wait_for(timeout=60000)
    page.get_by_label("Adapter name").fill("secret-lora")
    page.get_by_role("button", name="Extract", exact=True).click()
    page.locator("#extract-note").get_by_text("succeeded").wait_for(timeout=300000)
    result = page.locator("#extract-result")
    result.get_by_text("relative error").first.wait_for(timeout=20000)
    assert "secret-lora" in result.inner_text()
    job_id = page.locator("#extract-job input, #extract-job textarea").first.input_value()
    assert job_id and f"job={job_id}" in page.url  # the address carries the job

    page.goto(app_url + f"?job={job_id}")  # a reload follows the job into its accordion, on the Merge tab
    page.locator("#extract-result").get_by_text("relative error").first.wait_for(timeout=60000)
