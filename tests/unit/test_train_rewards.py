"""GRPO's reward library, the GRPO/KTO datasets, the arena's KTO rows and the new methods' checks and memory terms
(no weights load: the bundled model's config and tokenizer only)."""
import json

import pytest

from lab import settings
from lab.errors import LabError
from lab.hardware import Hardware
from lab.train.methods import rewards
from lab.train.methods.grpo import prompt_rows
from lab.train.methods.kto import unpaired_rows
from lab.train.recipe import TrainRecipe
from lab.train.methods.rewards import text
from lab.train.methods.rewards.guard import GuardedReward, RewardFailed, SampleBook
from lab.train.methods.rewards.spec import RewardSpec
from tests.unit.test_data_scoring import judge_server  # noqa: F401 - a fixture: an OpenAI-compatible judge

CPU = Hardware(ram_gb=24, bnb_ok=True, cpu_count=2)


def _answer(content: str) -> list[dict]:
    return [{"role": "assistant", "content": content}]


@pytest.mark.parametrize("line, name, param, weight", [
    ("format:<answer>.*</answer>@0.5", "format", "<answer>.*</answer>", 0.5),
    (r"format:\d{3}", "format", r"\d{3}", 1.0),
    ("exact", "exact", "", 1.0),
    ("math:solution@2", "math", "solution", 2.0),
    ("too_long:64@-1.5", "too_long", "64", -1.5),
])
def test_reward_lines_parse_and_round_trip(line, name, param, weight):
    spec = RewardSpec.from_line(line)
    assert (spec.name, spec.param, spec.weight) == (name, param, weight)
    assert RewardSpec.from_line(spec.line) == spec


def test_judge_options_ride_on_the_line_as_json():
    spec = RewardSpec.from_line('judge:Rate {answer} from 1 to 5@2 {"backend": "openai", "endpoint": "http://x/v1"}')
    assert spec.param == "Rate {answer} from 1 to 5" and spec.weight == 2 and spec.options["backend"] == "openai"
    assert RewardSpec.from_line(spec.line) == spec


@pytest.mark.parametrize("rewards_value, words", [
    (["bogus:1"], "unknown reward 'bogus'"),
    (["format:("], "not a valid regex"),
    (["format"], "needs a parameter"),
    (["length:ten"], "positive number of tokens"),
    ([], "needs at least one reward"),
])
def test_bad_rewards_are_refused_naming_the_field(rewards_value, words):
    with pytest.raises(LabError) as err:
        TrainRecipe.parse({"method": "grpo", "rewards": rewards_value})
    assert words in str(err.value) and err.value.field.startswith("rewards")


def test_grpo_and_kto_batch_rules():
    with pytest.raises(LabError) as err:
        TrainRecipe.parse({"method": "grpo", "rewards": ["exact"], "batch_size": 6, "num_generations": 4})
    assert err.value.field == "num_generations"
    with pytest.raises(LabError) as err:
        TrainRecipe.parse({"method": "kto", "batch_size": 1})
    assert err.value.field == "batch_size"


def test_text_rewards():
    s = text.Sample("q", "Sure. <answer> 1,000. </answer>", 12, {"answer": "1000", "sol": r"\frac{1}{2}"})
    assert text.Format(r"<answer>.*</answer>").score(s) == 1.0
    assert text.Format(r"^<answer>").score(s) == 0.0
    assert text.Tags("think,answer").score(s) == 0.5
    assert text.Exact().score(s) == 1.0  # inside the tags, commas of thousands, case and end punctuation fold
    assert text.Exact("sol").score(s) == 0.0
    assert text.Math("sol").score(text.Sample("q", "<answer>0.5</answer>", 3, s.columns)) == 1.0
    assert text.Math("sol").score(text.Sample("q", "<answer>0.25</answer>", 3, s.columns)) == 0.0
    assert text.Length("12").score(s) == 1.0 and text.Length("24").score(s) == 0.5
    assert text.TooLong("12").score(s) == 0.0 and text.TooLong("6").score(s) == -1.0
    with pytest.raises(KeyError, match="'missing'"):
        text.Exact("missing").score(s)


class Boom:
    """Raises on answers holding "boom"; scores the others by their length."""

    def score(self, s):
        if "boom" in s.completion:
            raise ValueError("cannot score this")
        return float(len(s.completion))


def test_a_reward_that_raises_stops_with_the_sample_and_traceback():
    guarded = GuardedReward("boom", Boom(), on_error="stop")
    with pytest.raises(RewardFailed) as err:
        guarded([[{"role": "user", "content": "hi"}]] * 2, [_answer("fine"), _answer("a boom here")])
    message = str(err.value)
    assert "'a boom here'" in message and "ValueError: cannot score this" in message and "Traceback" in message
    assert err.value.field == "rewards"


def test_a_reward_that_raises_is_skipped_and_counted_when_asked():
    logged = []
    book = SampleBook()
    guarded = GuardedReward("boom", Boom(), on_error="skip", book=book, log=logged.append)
    completions = [_answer("fine"), _answer("boom"), _answer("ok")]
    scores = guarded([[{"role": "user", "content": "hi"}]] * 3, completions, answer=["1", "2", "3"])
    assert scores == [4.0, None, 2.0] and guarded.errors == 1 and "raised on 1 sample" in logged[0]
    rows = book.rows({"boom": 2.0}, limit=8)
    assert [r["total"] for r in rows] == [8.0, 0.0, 4.0] and rows[1]["rewards"] == {"boom": None}


def test_a_batched_reward_that_raises_is_retried_sample_by_sample():
    class Batched:
        def score_batch(self, samples):
            return [Boom().score(s) for s in samples]

    guarded = GuardedReward("rm", Batched(), on_error="skip")
    assert guarded(["p"] * 2, [_answer("boom"), _answer("abc")]) == [None, 3.0]


def test_python_rewards_run_only_for_the_owner(tmp_path, monkeypatch):
    from lab import access
    from lab.train.methods.rewards.user_code import PythonReward, check_allowed

    path = tmp_path / "my_reward.py"
    path.write_text("def reward(prompt, completion, answer=None, **columns):\n"
                    "    return 1.0 if completion.strip() == answer else 0.0\n")
    scorer = PythonReward(str(path))
    assert scorer.score(text.Sample("p", " 42 ", 2, {"answer": "42"})) == 1.0
    check_allowed(access.local())  # locally the person at the keyboard owns the lab
    monkeypatch.setenv("SPACE_ID", "acme/lab")
    monkeypatch.setenv("SPACE_AUTHOR_NAME", "acme")  # an org's Space: its members own it
    settings.reset_caches()
    check_allowed(access.caller_for("alice", "t", ["acme"], "s1"))
    for caller in (None, access.caller_for(None, None, [], "s2"), access.caller_for("mallory", "t", [], "s3")):
        with pytest.raises(LabError):
            check_allowed(caller)
    monkeypatch.setenv("LAB_DEMO", "1")
    settings.reset_caches()
    with pytest.raises(LabError) as err:
        PythonReward(str(path)).score(text.Sample("p", "42", 1, {"answer": "42"}))
    assert "public demo" in str(err.value)
    with pytest.raises(LabError, match="no function"):
        monkeypatch.delenv("LAB_DEMO")
        settings.reset_caches()
        PythonReward(f"{path}:nope").load()


def test_grpo_prompts_keep_the_reward_columns():
    rows = prompt_rows([{"prompt": "What is 2 + 2?", "answer": 4}, {"prompt": "1 + 1?", "answer": "2"}])
    assert rows[0]["prompt"] == [{"role": "user", "content": "What is 2 + 2?"}]
    assert [r["answer"] for r in rows] == ["4", "2"]  # a column of mixed types becomes text
    alpaca = prompt_rows([{"instruction": "Name a colour.", "input": "", "output": "Red.", "id": 7}])
    assert alpaca[0]["prompt"][-1]["content"] == "Name a colour." and alpaca[0]["id"] == 7


def test_grpo_without_prompts_names_the_column():
    with pytest.raises(LabError) as err:
        prompt_rows([{"question": "2 + 2?", "answer": "4"}])
    assert err.value.field == "prompt" and "question" in str(err.value)


@pytest.mark.parametrize("row, field", [
    ({"prompt": "hi", "completion": "hello"}, "label"),
    ({"prompt": "hi", "completion": "hello", "label": "maybe"}, "label"),
    ({"prompt": "hi", "label": True}, "completion"),
    ({"text": "hi", "completion": "hello", "label": True}, "prompt"),
])
def test_kto_without_a_boolean_label_names_the_column(row, field):
    with pytest.raises(LabError) as err:
        unpaired_rows([row])
    assert err.value.field == field


def test_kto_takes_labels_and_unpairs_preferences():
    rows = unpaired_rows([{"prompt": "hi", "completion": "hello", "label": 1}])
    assert rows[0]["label"] is True and rows[0]["completion"] == _answer("hello")
    pairs = unpaired_rows([{"prompt": "hi", "chosen": "hello", "rejected": "go away"}])
    assert [(r["completion"][0]["content"], r["label"]) for r in pairs] == [("hello", True), ("go away", False)]


def test_arena_votes_become_kto_rows():
    from lab.chat import arena

    b = arena.Battle("m1", "m2")
    prompt = [{"role": "user", "content": "Capital of France?"}]
    for reply_a, reply_b, outcome in (("Paris.", "Rome.", "a"), ("Lyon.", "Paris.", "b"), ("x", "y", "both_bad"),
                                      ("p", "q", "tie")):
        arena.record_vote(b, prompt, reply_a, reply_b, outcome)
    rows, skipped = arena.kto_rows(arena.list_votes())
    assert skipped == 1 and [(r["completion"][0]["content"], r["label"]) for r in rows] == [
        ("Paris.", True), ("Rome.", False), ("Lyon.", False), ("Paris.", True), ("x", False), ("y", False)]
    folder = arena.export_preferences("votes-kto", form="kto")
    saved = [json.loads(x) for x in (folder / "data.jsonl").read_text().splitlines()]
    assert saved == rows and unpaired_rows(saved)[0]["label"] is True


def _write(tmp_path, rows, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_preflight_refuses_before_loading_anything(bundled_model, tmp_path, monkeypatch):
    from lab.train import preflight

    sums = _write(tmp_path, [{"prompt": f"{i} + 1?", "solution": str(i + 1)} for i in range(8)])
    grpo = TrainRecipe(method="grpo", model=str(bundled_model), dataset=str(sums), rewards=["exact"])
    with pytest.raises(LabError) as err:  # exact reads `answer`, which this set calls `solution`
        preflight.check(grpo, CPU)
    assert err.value.field == "rewards" and "'answer'" in str(err.value) and "solution" in str(err.value)
    assert preflight.check(grpo.updated(rewards=["exact:solution"]),
                           CPU).kind == "prompts"
    code = tmp_path / "r.py"
    code.write_text("def reward(prompt, completion, **kw):\n    return 0.0\n")
    monkeypatch.setenv("LAB_DEMO", "1")
    settings.reset_caches()
    with pytest.raises(LabError, match="public demo"):
        preflight.check(grpo.updated(rewards=[f"python:{code}"]), CPU)
    monkeypatch.delenv("LAB_DEMO")
    settings.reset_caches()
    sft = _write(tmp_path, [{"prompt": "hi", "completion": "hello"}] * 4, "pc.jsonl")
    with pytest.raises(LabError) as err:
        preflight.check(TrainRecipe(method="reward", model=str(bundled_model), dataset=str(sft)), CPU)
    assert err.value.field == "dataset" and "preference" in str(err.value)


def test_memory_counts_grpo_generations_and_method_parts(bundled_model, tmp_path):
    from lab.train import preflight

    free = 20.0  # GB, as on an idle 24 GB machine: what other processes hold must not refuse the 512-token run
    sums = _write(tmp_path, [{"prompt": "What is 12 + 7?", "answer": "19"}] * 16)
    base = TrainRecipe(method="grpo", model=str(bundled_model), dataset=str(sums), rewards=["exact"],
                       batch_size=8, num_generations=4, max_completion_length=64)
    short = preflight.check(base, CPU, free=free)
    long = preflight.check(base.updated(max_completion_length=512), CPU, free=free)
    prompt_tokens = short.memory["batch"]["length"] - 64
    assert 10 < prompt_tokens < 40 and long.memory["batch"]["length"] == prompt_tokens + 512
    assert short.memory["batch"]["sequences"] == 8  # every sampled answer is a sequence of the step
    assert long.memory["parts_gb"]["generation cache"] > 5 * short.memory["parts_gb"]["generation cache"] > 0
    assert long.memory["total_gb"] > short.memory["total_gb"]
    pairs = _write(tmp_path, [{"prompt": "hi", "chosen": "hello there", "rejected": "go"}] * 8, "p.jsonl")
    reward = preflight.check(TrainRecipe(method="reward", model=str(bundled_model), dataset=str(pairs)), CPU,
                             free=free)
    assert "LM head" not in reward.memory["parts_gb"] and reward.memory["batch"]["sequences"] == 8
    kto = preflight.check(TrainRecipe(method="kto", model=str(bundled_model), dataset=str(pairs), adapter="full"),
                          CPU, free=free)
    assert kto.memory["parts_gb"]["reference model"] == kto.memory["parts_gb"]["weights"]


def test_watch_finds_no_signal_and_the_dominant_reward(tmp_path):
    from lab.train.methods.grpo_watch import NO_SIGNAL, GrpoWatch, dominance

    class Ctx:
        folder, logged = tmp_path, []

        def log(self, msg):
            self.logged.append(msg)

    recipe = TrainRecipe(method="grpo", rewards=["format:x@2", "exact"], no_signal_steps=2)
    assert dominance({"rewards/format/std": 0.5, "rewards/exact/std": 0.5}, {"format": 2.0, "exact": 1.0}) == \
        pytest.approx({"format": 2 / 3, "exact": 1 / 3})
    ctx, book = Ctx(), SampleBook()
    watch = GrpoWatch(ctx, recipe, [], book)
    state = type("S", (), {"global_step": 0})()
    zero = {"reward": 0.0, "rewards/format/mean": 0.0, "rewards/format/std": 0.0, "rewards/exact/mean": 0.0,
            "rewards/exact/std": 0.0}
    for step in (1, 2):
        state.global_step = step
        watch.on_log(None, state, None, logs=dict(zero))
    assert NO_SIGNAL in watch.state["no_signal"] and any(NO_SIGNAL in m for m in ctx.logged)
    state.global_step = 10
    watch.on_log(None, state, None, logs={**zero, "reward": 1.0, "rewards/exact/std": 0.4})
    assert watch.state["dominant"] == "exact" and "Reward 'exact' dominates" in ctx.logged[-1]


def test_panel_presets_bring_their_data_and_rewards_round_trip_through_the_form(bundled_model):
    from lab.train import panel

    form = {**TrainRecipe().model_dump(), "model": str(bundled_model), "dataset": "mine.jsonl"}
    grpo = panel.apply_preset("GRPO: teach an answer format", form)
    assert grpo.method.name == "grpo" and grpo.dataset.endswith("arithmetic-sums") and "arithmetic" in \
        panel.preset_note("GRPO: teach an answer format")
    values = panel.form_from_recipe(grpo)
    assert values["rewards"].splitlines()[1] == "exact" and panel.field_kind("rewards") == ("lines", [])
    assert panel.recipe_from_form(values).method.rewards == grpo.method.rewards
    out = panel.check(grpo.model_copy(update={"max_rows": 16}))
    assert out["trl_command"].startswith("trl grpo") and "exact" in out["trl_command"]
    assert "samples 4 answers" in out["markdown"] and "<|im_start|>assistant" in out["preview"][0][0]
    kto = panel.apply_preset("KTO from arena votes", form)
    assert kto.method.name == "kto" and kto.dataset == "mine.jsonl"  # no KTO export yet: the form's data stays
    assert "export" in panel.preset_note("KTO from arena votes")


def test_the_lr_finder_refuses_grpo():
    from lab.train import lr_finder

    with pytest.raises(LabError) as err:
        lr_finder.submit(TrainRecipe(method="grpo", rewards=["exact"], dataset="d.jsonl"))
    assert err.value.field == "learning_rate"


def test_judge_reward_uses_the_data_tabs_judge_settings(judge_server):
    from tests.unit.test_data_scoring import _Judge

    spec = RewardSpec.from_line('judge:Rate: {prompt} / {answer} {"backend": "openai", "endpoint": "%s", '
                                '"model": "judge"}' % judge_server)
    guarded = rewards.build([spec])[0]
    prompts = [[{"role": "user", "content": f"Tips about {t}?"}] for t in ("bread", "tomatoes", "money")]
    scores = guarded(prompts, [_answer("Knead.")] * 3)
    assert scores == [1.0, 0.25, None] and _Judge.calls == 3  # 5 → 1, 2 → 0.25, no score → unscored
    with pytest.raises(LabError, match="judge reward's settings"):
        rewards.make(RewardSpec.from_line('judge {"backend": "openai", "endpoint": "not a url"}'))


def test_reward_model_reward_scores_and_a_causal_lm_is_refused(tmp_path, bundled_model):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tok = AutoTokenizer.from_pretrained(bundled_model)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, num_labels=1, pad_token_id=tok.pad_token_id)
    LlamaForSequenceClassification(cfg).save_pretrained(tmp_path / "rm")
    tok.save_pretrained(tmp_path / "rm")
    specs = rewards.parse_rewards([f"reward_model:{tmp_path / 'rm'}"])
    rewards.check(specs, ["prompt"])
    scores = rewards.build(specs)[0](["Hi"] * 2, [_answer("Hello!"), _answer("Go away.")])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores) and scores[0] != scores[1]
    with pytest.raises(LabError, match="not a reward model"):
        rewards.check(rewards.parse_rewards([f"reward_model:{bundled_model}"]), ["prompt"])
