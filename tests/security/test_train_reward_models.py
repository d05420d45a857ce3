"""GRPO's reward_model reward names a model the run loads: on a Space a visitor may name their own and shared
models, Hub models and the bundled one, never another visitor's artifact (lab.models.usable.model_for, the rule of
every model field), and the refusal comes before anything is read."""
from __future__ import annotations

import pytest

from lab import settings
from lab.access import NOT_ALLOWED, OWNER, VISITOR, Caller
from lab.errors import LabError
from lab.settings import DEFAULT_MODEL
from lab.train.panel import check_access
from lab.train.recipe import TrainRecipe
from tests.security.spaces import make_artifact

EVE = Caller(VISITOR, "eve", "s-eve")


@pytest.fixture
def on_space(lab_home, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "me/lab")
    settings.reset_caches()
    make_artifact(lab_home, "carol-rm", "model", "carol")
    make_artifact(lab_home, "eve-rm", "model", "eve")
    yield lab_home
    settings.reset_caches()


def _grpo(*rewards: str) -> TrainRecipe:
    return TrainRecipe(method="grpo", model=DEFAULT_MODEL, dataset="me/sums", rewards=["exact", *rewards])


def test_a_visitor_may_not_score_with_another_visitors_reward_model(on_space):
    with pytest.raises(LabError) as err:
        check_access(_grpo("reward_model:carol-rm"), EVE)
    assert err.value.field == "rewards" and NOT_ALLOWED in str(err.value)
    check_access(_grpo("reward_model:eve-rm"), EVE)  # their own
    check_access(_grpo(), EVE)  # no reward model at all
    check_access(_grpo("reward_model:carol-rm"), Caller(OWNER, "alice"))  # the owner may use every one
