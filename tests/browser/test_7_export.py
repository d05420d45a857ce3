"""Export from the Artifacts tab in a real browser: pick a merge, open the Export panel, export q8_0 and f16, and
see each file's size, top-1 agreement and KL divergence, and the Modelfile. Screenshotted for the README."""
from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.browser.conftest import open_tab, reload_mid_job


def _tiny_merge_artifact(tmp_path):
    """A small model artifact in the app's LAB_HOME (2 layers, a real trained tokenizer and chat template)."""
    from lab.artifacts import finalize
    from lab.settings import get_settings
    from tests.export_support import tiny_model

    folder = tiny_model(get_settings().artifacts / "tiny-slerp", "llama")
    (folder / "README.md").unlink()
    finalize(folder, "merge", [{"ref": "tiny-a", "kind": "model", "license": "apache-2.0", "lineage": []},
                               {"ref": "tiny-b", "kind": "model", "license": "apache-2.0", "lineage": []}],
             step="merge (SLERP)")
    return folder


def test_export_a_merge_to_gguf_from_the_artifacts_tab(page, lab, app_home, tmp_path):
    merge = _tiny_merge_artifact(tmp_path)
    open_tab(page, "Artifacts")
    page.get_by_role("button", name="Refresh").click()
    page.get_by_text(merge.name, exact=True).filter(visible=True).first.click()
    page.wait_for_function("n => [...document.querySelectorAll('input, textarea')].some(e => e.value.endsWith(n))",
                           arg=merge.name)
    page.get_by_role("button", name="Export to GGUF", exact=True).click()
    panel = page.get_by_text("Turn a model, merge or adapter into GGUF files")
    panel.wait_for()
    page.get_by_label("f16", exact=True).check()  # q8_0 is ticked already
    page.get_by_role("button", name="Export", exact=True).click()
    reload_mid_job(page, "Artifacts", "export-job")  # the reloaded page opens the panel on the running export
    expect(page.get_by_label("f16", exact=True)).to_be_checked()  # with the job's settings, not a blank form

    page.get_by_text("Exported to").filter(visible=True).wait_for(timeout=180_000)
    for text in ("tiny-slerp-q8_0.gguf", "tiny-slerp-f16.gguf", "100.0%"):  # f16: the same next token everywhere
        page.get_by_text(text, exact=True).filter(visible=True).first.wait_for()
    page.get_by_text("<|im_start|>assistant").first.wait_for()  # the Modelfile's template
    lab.shoot(page, "export", focus=page.get_by_text("GGUF types", exact=True))

    exported = lab.artifacts("gguf")[-1]
    assert exported["name"] == "tiny-slerp-gguf" and exported["parents"][0]["path"] == str(merge)
    check = json.loads((lab.home / "artifacts" / "tiny-slerp-gguf" / "check.json").read_text())
    by_type = {f["type"]: f["check"] for f in check}
    assert set(by_type) == {"q8_0", "f16"} and by_type["f16"]["kl_mean"] < 1e-6
