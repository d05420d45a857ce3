"""The datatrove engine against the in-memory one: on the shared Alpaca data with planted near-duplicates the two
keep (almost) the same rows; the artifact has the same files; steps datatrove does not run are refused."""
import json
import random

import pyarrow.parquet as pq
import pytest

from lab.__main__ import main
from lab.data import scale
from lab.data.pipeline import run
from lab.data.recipe import FilterRecipe
from lab.errors import LabError
from tests.unit.test_data_dedup_confirm import arithmetic_rows

STEPS = [{"type": "exact_dedup"}, {"type": "fuzzy_dedup", "threshold": 0.6}, {"type": "refusals"},
         {"type": "length", "max_tokens": 400}, {"type": "empty"}]


def planted(alpaca_path, tmp_path, copies: int = 400):
    """The 999 Alpaca rows, then near-duplicates (one answer word replaced) and exact copies (case changed)."""
    base = json.loads(alpaca_path.read_text())
    rng = random.Random(0)
    vocab = sorted({w for r in base for w in r["output"].split() if w.isalpha()})
    rows = list(base)
    for i in rng.sample(range(len(base)), copies):
        row = dict(base[i])
        words = row["output"].split(" ")
        words[rng.randrange(len(words))] = rng.choice(vocab)
        row["output"] = " ".join(words)
        rows.append(row)
    rows += [{**r, "instruction": r["instruction"].upper()} for r in base[:50]]
    path = tmp_path / "planted.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, len(rows)


@pytest.mark.slow
def test_both_engines_keep_the_same_rows_and_write_the_same_artifact(alpaca_path, tmp_path, capsys):
    path, n = planted(alpaca_path, tmp_path)
    recipe = FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": STEPS})
    memory = run(recipe, log=lambda m: None)
    (tmp_path / "recipe.yaml").write_text(recipe.to_yaml())
    assert main(["data", "run", str(tmp_path / "recipe.yaml"), "--engine", "datatrove", "--tasks", "3",
                 "--out", str(tmp_path / "out"), "--removed-out", str(tmp_path / "removed.jsonl")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["engine"] == "datatrove" and report["rows_in"] == n
    kept_memory = set(memory.kept.tolist())
    removed = {json.loads(line)["row"] for line in open(tmp_path / "removed.jsonl")}
    kept_datatrove = set(range(n)) - removed
    assert len(kept_memory & kept_datatrove) / len(kept_memory | kept_datatrove) >= 0.95
    assert len(memory.kept) < n - 300  # the planted copies really went
    by_step = {s["type"]: s["removed"] for s in report["funnel"]}
    assert by_step["exact_dedup"] >= 50 and by_step["fuzzy_dedup"] >= 300 and by_step["refusals"] > 0
    out = tmp_path / "out"
    assert {"data.parquet", "recipe.yaml", "lab.json", "README.md"} <= {p.name for p in out.iterdir()}
    assert pq.read_table(out / "data.parquet").num_rows == report["rows_out"] == len(kept_datatrove)
    assert FilterRecipe.load(out / "recipe.yaml") == recipe


def test_datatrove_confirms_each_candidate_pair_by_true_jaccard(tmp_path):
    """The templated arithmetic rows of issue 26: the engine drops the true near-duplicates only, keeps
    "9 + 3 = 12" beside "9 minus 3 = 6" (true Jaccard 7/12), and says how many candidate pairs it turned down."""
    rows = arithmetic_rows()
    path = tmp_path / "arithmetic.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = FilterRecipe.parse({"sources": [{"path": str(path)}], "steps": [{"type": "fuzzy_dedup"}]})
    result = scale.execute(recipe, tasks=2, workers=1, work=tmp_path / "work", log=lambda m: None)
    removed = {r["row"] for r in result.removed}
    assert removed <= set(range(182, len(rows))) and len(removed) >= 9  # copies only (its own LSH may miss one)
    assert rows.index(next(r for r in rows if r["instruction"].endswith("What is 9 + 3?"))) not in removed
    step = result.report()["funnel"][0]
    assert int(step["note"].split()[0]) > 100 and step["note"].endswith("true Jaccard under 0.6")
    assert step["warning"] == ""


def test_steps_datatrove_cannot_run_are_refused_before_anything_loads(tmp_path):
    for step in ({"type": "semantic_dedup"}, {"type": "clusters"}, {"type": "judge"}):
        recipe = FilterRecipe.parse({"sources": [{"path": str(tmp_path / "absent.jsonl")}],
                                     "steps": [{"type": "exact_dedup"}, step]})
        with pytest.raises(LabError) as err:
            scale.execute(recipe, tasks=2)
        assert err.value.field == "steps.1" and "cannot run on the datatrove engine" in err.value.what
    off = FilterRecipe.parse({"sources": [{"path": str(tmp_path / "absent.jsonl")}],
                              "steps": [{"type": "semantic_dedup", "enabled": False}]})
    with pytest.raises(LabError, match="No file at") as err:  # a switched-off step is no reason to refuse
        scale.execute(off, tasks=2)
    assert err.value.field == "file" and err.value.fix  # raised in the loading process, whole


FAKE_SBATCH = """#!/bin/bash
# A stand-in for Slurm's sbatch: runs every array task of the script now, one after the other, then says
# what sbatch says. (Running at submission also satisfies any --dependency.)
script="${@: -1}"
last=$(grep -oP '^#SBATCH --array=0-\\K[0-9]+' "$script")
export SLURM_NODELIST=localhost SLURM_NODEID=0
for i in $(seq 0 "$last"); do SLURM_ARRAY_TASK_ID=$i bash "$script" > /dev/null 2>&1 || exit 1; done
echo "Submitted batch job $RANDOM"
"""


def test_slurm_runs_each_stage_as_an_array_job(tmp_path, monkeypatch):
    from tests.unit.data_fixtures import write_alpaca

    path, expected = write_alpaca(tmp_path / "mini.jsonl")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("scontrol", "#!/bin/bash\necho localhost\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    recipe = FilterRecipe.parse({"sources": [{"path": str(path)}],
                                 "steps": [{"type": "refusals", "phrases": ["as an AI"]}]})
    with pytest.raises(LabError, match="needs --work"):
        scale.execute(recipe, tasks=2, slurm="cpu")
    result = scale.execute(recipe, tasks=2, slurm="cpu", work=tmp_path / "shared", log=lambda m: None)
    assert len(result.kept) == expected["rows"] - expected["refusals"]
    script = (tmp_path / "shared" / "logs" / "step01-rule" / "launch_script.slurm").read_text()
    assert "#SBATCH --partition=cpu" in script and "#SBATCH --array=0-1" in script
