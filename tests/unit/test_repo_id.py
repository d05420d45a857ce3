"""One repo-id pattern (lab/repo_id.py): every place that takes a Hub id refuses the same strings."""
import pytest

from lab.errors import LabError
from lab.repo_id import check_repo_id, is_repo_id

GOOD = ["HuggingFaceTB/SmolLM2-135M-Instruct", "sentence-transformers/all-MiniLM-L6-v2", "a/b", "Org_1/model.v2",
        "x" * 96 + "/" + "y" * 96]
BAD = ["", "name-only", "a/b/c", "/abs/dir", "../../etc", "./a", "~/data", "~user/x", "file:///etc/passwd",
       "https://huggingface.co/a/b", "a/..", "../a", "a/b\x00", "a /b", "a/b\tc", "-a/b", "a/b.", "a--b/c", "a/b..c",
       "x" * 97 + "/y", "a/" + "é", "C:\\data\\x", "a/" + "z" * 1_000_000]


@pytest.mark.parametrize("good", GOOD)
def test_hub_ids_pass(good):
    assert is_repo_id(good) and check_repo_id(f" {good} ", "f") == good


@pytest.mark.parametrize("bad", BAD, ids=lambda s: repr(s[:20]))
def test_paths_urls_and_broken_names_are_refused_everywhere(bad):
    """The checker, the model resolver and the train recipe's push targets refuse the same strings."""
    from lab.models.resolve import _check_repo_id
    from lab.train.recipe import TrainRecipe

    assert not is_repo_id(bad)
    with pytest.raises(LabError) as err:
        check_repo_id(bad, "dataset")
    assert err.value.field == "dataset" and len(str(err.value)) < 400  # a 1 MB input is not echoed back
    with pytest.raises(LabError):
        _check_repo_id(bad)
    if bad.strip():
        with pytest.raises(LabError) as err:
            TrainRecipe.parse({"push_to": bad})
        assert err.value.field == "push_to"


def test_a_bare_name_is_a_publish_target_but_not_a_hub_id():
    from lab.hub.client import validate_repo_name

    assert validate_repo_name("my-model") == "my-model" and not is_repo_id("my-model")
