"""Train tab in a real browser: a short LoRA SFT on the Data walk's dataset, the live loss curve, the result."""
from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import legend_of, open_tab, pick, reload_mid_job

SHORT_RUN = {"max_steps": 2, "max_seq_length": 64, "batch_size": 2}  # a handful of steps, tiny sequences


def _set(page, name: str, value) -> None:
    page.locator(f"#train-{name}").get_by_role("textbox").or_(
        page.locator(f"#train-{name}").get_by_role("spinbutton")).first.fill(str(value))


CHARTS = ("train-loss", "train-lr", "train-grad", "train-tps")
def test_short_sft_draws_the_loss_curve(page, lab, dataset_artifact):
    open_tab(page, "Train")
    pick(page, "Dataset artifacts", dataset_artifact.name)  # what the Data walk exported
    page.wait_for_function("p => document.querySelector('#train-dataset textarea, #train-dataset input').value === p",
                           arg=dataset_artifact.name)
    assert page.get_by_role("radio", name="lora", exact=True).is_checked()
    assert page.get_by_role("radio", name="sft", exact=True).is_checked()
    for name, value in SHORT_RUN.items():
        _set(page, name, value)
    page.get_by_text("max_seq_length: 64").wait_for()  # the recipe YAML follows the form

    page.get_by_role("button", name="Start training").click()
    status = page.locator("#train-status")
    status.get_by_text("running").wait_for(timeout=60_000)  # progress shows while it runs
    assert page.locator("#train-progress .lab-progress").is_visible()
    job = reload_mid_job(page, "Train", "train-job")  # the reloaded page follows the job: status and curves go on
    page.get_by_text("max_seq_length: 64").wait_for()  # and shows the job's recipe, not a blank form
    page.locator("#train-loss g.mark-line path").first.wait_for(timeout=300_000)  # a live update drew the curve
    open_tab(page, "Jobs")  # leave while the job runs: the hidden charts' updates raise no page error
    page.wait_for_function("() => document.querySelector('#train-status')?.textContent.includes('succeeded')",
                           timeout=300_000)
    open_tab(page, "Train")
    status.get_by_text("succeeded").wait_for(timeout=300_000)
    assert not [p for p in page.lab_problems if "offsetWidth" in p]

    loss = page.locator("#train-loss")
    loss.locator("g.mark-line path").first.wait_for()
    points = loss.locator("g.mark-symbol.role-mark path")
    assert points.count() == SHORT_RUN["max_steps"]  # one point per step
    for chart in CHARTS:  # each chart's legend, its title and every line's name, lies whole inside its block
        page.locator(f"#{chart} .role-legend text").first.wait_for()
        legend = legend_of(page, chart)
        assert len(legend) >= 2 and all(inside for _, inside in legend), (chart, legend)
    lab.shoot(page, "train", focus=page.get_by_role("button", name="Start training"))

    result = lab.home / "artifacts" / page.locator("#train-result").get_by_role("textbox").input_value()
    assert (result / "adapter_model.safetensors").is_file()
    assert result.name in {Path(a["path"]).name for a in lab.artifacts("adapter")}
    assert page.get_by_role("button", name="Try it in Chat").is_enabled()

    page.locator("#train-job").get_by_role("textbox").fill("")  # the Jobs tab opens the job in this panel again
    open_tab(page, "Jobs")
    page.get_by_text(job, exact=True).filter(visible=True).first.click()
    page.wait_for_function("j => [...document.querySelectorAll('input')].some(e => e.value === j)", arg=job)
    page.get_by_role("button", name="Open in its tab").click()
    page.get_by_role("tab", name="Train", exact=True, selected=True).wait_for()
    page.wait_for_function("j => document.querySelector('#train-job textarea, #train-job input').value === j", arg=job)
    page.wait_for_function("j => new URL(location.href).searchParams.get('job') === j", arg=job)
