"""GRPO from the Train tab in a real browser: the preset, a preview of the rewards, a two-step run, the reward
curves and the table of sample completions (the README's screenshot of GRPO's curves)."""
from __future__ import annotations

from tests.browser.conftest import legend_of, open_tab, pick

TINY = {"max_steps": 2, "batch_size": 4}
TINY_GRPO = {"num_generations": 2, "max_completion_length": 8}


def _set(page, name: str, value) -> None:
    page.locator(f"#train-{name}").get_by_role("textbox").or_(
        page.locator(f"#train-{name}").get_by_role("spinbutton")).first.fill(str(value))


def test_grpo_preset_preview_run_and_reward_curves(page, lab):
    open_tab(page, "Train")
    pick(page, "Preset", "GRPO: teach an answer format")
    page.get_by_role("button", name="Apply preset").click()
    page.get_by_text("the lab's arithmetic set").wait_for()  # the preset brings its data
    assert page.get_by_role("radio", name="grpo", exact=True).is_checked()
    assert "arithmetic-sums" in page.locator("#train-dataset textarea, #train-dataset input").first.input_value()
    page.get_by_text("GRPO, KTO and rewards").click()  # the method's fields live in their accordion
    rewards = page.locator("#train-rewards textarea").input_value()
    assert rewards.startswith("format:") and rewards.splitlines()[1] == "exact"
    for name, value in {**TINY, **TINY_GRPO}.items():
        _set(page, name, value)
    page.get_by_text("max_completion_length: 8").wait_for()  # the recipe YAML follows the form

    page.get_by_role("button", name="Preview the rewards on the base model's answers").click()
    page.locator("#train-reward-preview-note").get_by_text("Mean per reward").wait_for(timeout=180_000)
    preview = page.locator("#train-reward-preview")
    assert preview.get_by_text("completion").first.is_visible() and preview.get_by_text("format").first.is_visible()

    job = "() => document.querySelector('#train-job textarea, #train-job input').value"
    earlier = page.evaluate(job)  # the panel follows the walk's last run until this one starts
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function(f"b => ({job})() && ({job})() !== b", arg=earlier)
    status = page.locator("#train-status")
    status.get_by_text("succeeded").wait_for(timeout=420_000)
    curves = page.locator("#train-reward-curves")
    curves.locator("g.mark-line path").first.wait_for()
    legend = curves.inner_text()
    assert all(name in legend for name in ("total", "format", "exact"))  # each reward's mean and the total
    for chart in ("train-reward-curves", "train-kl"):  # each legend lies whole inside its chart's block
        page.locator(f"#{chart} .role-legend text").first.wait_for()
        inside = legend_of(page, chart)
        assert len(inside) >= 3 and all(ok for _, ok in inside), (chart, inside)
    page.wait_for_function("() => document.querySelector('#train-samples').innerText.includes('What is')")
    assert "completion" in page.locator("#train-samples").inner_text()  # sampled answers beside their prompts
    lab.shoot(page, "train-grpo", focus=page.get_by_text("GRPO: rewards and sample completions"))

    result = lab.home / "artifacts" / page.locator("#train-result").get_by_role("textbox").input_value()
    assert (result / "adapter_model.safetensors").is_file() and (result / "rewards.png").is_file()
    assert "## Rewards (GRPO)" in (result / "README.md").read_text()
