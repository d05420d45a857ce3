"""In a real browser: YAML fills the Merge form and the form writes the YAML, the offline template picks up a
local fine-tune, preflight and pictures show, the merge runs as a job, and "Try it in Chat" opens the Chat tab
on the merged model."""
from __future__ import annotations

from tests.merge_support import BASE_ID, finetuned_model  # noqa: F401
from tests.ui.test_hub_browser import page  # noqa: F401


def _local_finetune(finetuned_model) -> None:
    """A model artifact in this LAB_HOME, as the Train tab leaves one (weights linked from the test cache)."""
    from lab.artifacts import finalize, new_folder

    model = new_folder("model", "secret-ft")
    for p in finetuned_model.iterdir():
        if p.suffix in (".json", ".safetensors", ".jinja") and p.name != "lab.json":
            (model / p.name).symlink_to(p)
    finalize(model, "model", [], step="sft")


def _paste_yaml(page, text: str) -> None:
    page.locator("#merge-yaml .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def test_merge_tab_yaml_form_check_run_and_chat(app_url, page, finetuned_model):  # noqa: F811
    _local_finetune(finetuned_model)
    page.goto(app_url)
    page.get_by_role("tab", name="Merge").click()
    page.get_by_text("Template loaded").wait_for(timeout=30000)  # the SLERP template fills both sides on load
    assert "allow_crimes" not in page.content() and "crimes" not in page.content().lower()

    _paste_yaml(page, f"models:\n  - model: {BASE_ID}\n    parameters: {{weight: 0.5}}\n"
                      f"  - model: {finetuned_model}\n    parameters: {{weight: 0.5}}\nmerge_method: linear\n")
    page.get_by_text("The form shows this YAML").wait_for(timeout=20000)
    page.locator("table").filter(has_text=str(finetuned_model)).first.wait_for(timeout=10000)  # models table
    assert "Linear" in page.get_by_label("Method").input_value()

    page.get_by_role("combobox", name="Template").click()  # offline template: bundled + newest fine-tune
    page.get_by_role("option", name="Offline: the bundled model + your fine-tune").click()
    page.get_by_role("button", name="Fill from template").click()
    page.locator("#merge-yaml").get_by_text("secret-ft").first.wait_for(timeout=20000)
    assert "SLERP" in page.get_by_label("Method").input_value()

    page.get_by_label("dtype", exact=True).click()  # a form edit rewrites the YAML
    page.get_by_role("option", name="bfloat16", exact=True).click()
    page.locator("#merge-yaml").get_by_text("bfloat16").wait_for(timeout=10000)

    page.get_by_role("button", name="Check (preflight)").click()
    page.get_by_text("Ready to merge").wait_for(timeout=60000)
    assert page.get_by_text("LlamaForCausalLM").first.is_visible()

    page.get_by_label("Output name").fill("ui-merge")
    page.get_by_role("button", name="Merge", exact=True).click()
    page.locator("#merge-job-status").get_by_text("succeeded").wait_for(timeout=400000)
    page.get_by_role("button", name="Try it in Chat").click()  # the Chat tab opens with the merge in a pane
    page.get_by_role("tab", name="Chat", selected=True).wait_for(timeout=20000)
    page.wait_for_function("() => [1, 2, 3, 4].some(i => (document.querySelector(`input[aria-label='Model ${i}']`)"
                           " || {}).value?.includes('ui-merge'))", timeout=20000)


def test_moe_template_and_bad_yaml(app_url, page):  # noqa: F811
    page.goto(app_url)
    page.get_by_role("tab", name="Merge").click()
    page.get_by_text("Template loaded").wait_for(timeout=30000)
    _paste_yaml(page, "merge_method: frankenmerge\nmodels: [{model: a}]\n")
    page.get_by_text("merge_method: Unknown merge method").wait_for(timeout=20000)
    assert "SLERP" in page.get_by_label("Method").input_value()  # the form still shows the last valid config

    page.get_by_role("combobox", name="Template").click()  # the MoE form: gate mode and the experts table
    page.get_by_role("option", name="4-expert Franken-MoE").click()
    page.get_by_role("button", name="Fill from template").click()
    page.locator("table").filter(has_text="beowolx/CodeNinja-1.0-OpenChat-7B").first.wait_for(timeout=20000)
    assert page.get_by_text("Gate mode").first.is_visible()
    assert "Franken-MoE" in page.get_by_label("Method").input_value()
