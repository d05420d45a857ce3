"""Several processes: the refusals before launch, the generated accelerate config, the CLI flags."""
import subprocess
import sys

import pytest
import yaml

from lab.errors import LabError
from lab.hardware import Gpu, Hardware
from lab.train import distributed, memory, preflight
from lab.train.base_model import model_facts
from lab.train.hf_jobs import FLAVORS, flavor_gpus, submit_hf_job
from lab.train.recipe import TrainRecipe

A10G = Gpu("NVIDIA A10G", 22.0, (8, 6))
FOUR_A10G = Hardware(gpus=(A10G,) * 4, bnb_ok=True, ram_gb=180, cpu_count=48)
CPU = Hardware(ram_gb=16, cpu_count=2)


def _refusal(recipe, hw) -> LabError:
    with pytest.raises(LabError) as err:
        distributed.check(recipe, hw)
    return err.value


def test_recipe_fields_default_to_one_process():
    r = TrainRecipe()
    assert (r.num_processes, r.distributed) == (1, "ddp")
    assert TrainRecipe(batch_size=2, grad_accum=3, num_processes=4).effective_batch == 24
    distributed.check(r, CPU)  # one process: nothing to refuse
    assert distributed.offered(FOUR_A10G) and distributed.offered(CPU)  # the Train tab shows the fields
    assert not distributed.offered(Hardware(gpus=(A10G,), cpu_count=8))  # one GPU: nothing to choose


def test_more_gpus_than_present_is_refused_with_the_count():
    err = _refusal(TrainRecipe(num_processes=8), FOUR_A10G)
    assert err.field == "num_processes" and "8" in err.what and "4 GPUs" in err.what and "4 or fewer" in err.fix
    distributed.check(TrainRecipe(num_processes=4), FOUR_A10G)


def test_cpu_allows_one_gloo_process_per_core():
    distributed.check(TrainRecipe(num_processes=2, use_cpu=True), CPU)
    err = _refusal(TrainRecipe(num_processes=3), CPU)
    assert err.field == "num_processes" and "2 CPU cores" in err.what
    # use_cpu on a GPU machine counts cores, not GPUs
    distributed.check(TrainRecipe(num_processes=8, use_cpu=True), FOUR_A10G)


def test_fsdp_refusals_name_the_combination_and_what_works():
    assert "ddp" in _refusal(TrainRecipe(num_processes=2, distributed="fsdp"), CPU).fix
    assert _refusal(TrainRecipe(distributed="fsdp"), FOUR_A10G).field == "num_processes"
    err = _refusal(TrainRecipe(num_processes=2, engine="unsloth"), FOUR_A10G)
    assert err.field == "engine" and "trl" in err.fix
    grpo = TrainRecipe.parse(dict(method="grpo", adapter="qlora", rewards=["exact"], batch_size=4,
                                  num_generations=4, num_processes=2, distributed="fsdp"))
    err = _refusal(grpo, FOUR_A10G)
    assert "GRPO" in err.what and "lora" in err.fix and "ddp" in err.fix
    distributed.check(TrainRecipe(num_processes=4, distributed="fsdp", adapter="qlora"), FOUR_A10G)


def test_generated_config_ddp_and_fsdp(tmp_path):
    ddp = distributed.accelerate_config(TrainRecipe(num_processes=2, use_cpu=True), CPU)
    assert ddp["distributed_type"] == "MULTI_GPU" and ddp["num_processes"] == 2 and "fsdp_config" not in ddp
    fsdp = distributed.accelerate_config(TrainRecipe(num_processes=4, distributed="fsdp"), FOUR_A10G)
    f = fsdp["fsdp_config"]
    assert fsdp["distributed_type"] == "FSDP" and fsdp["num_processes"] == 4
    assert f["fsdp_sharding_strategy"] == "FULL_SHARD" and f["fsdp_cpu_ram_efficient_loading"] is True
    assert f["fsdp_sync_module_states"] is True and f["fsdp_use_orig_params"] is True
    qlora = distributed.accelerate_config(TrainRecipe(num_processes=4, distributed="fsdp", adapter="qlora"),
                                          FOUR_A10G)
    assert qlora["fsdp_config"]["fsdp_use_orig_params"] is False
    cmd = distributed.prepare(TrainRecipe(num_processes=4, distributed="fsdp"), FOUR_A10G, tmp_path,
                              ["train", "r.yaml", "--out", str(tmp_path)])
    written = yaml.safe_load((tmp_path / distributed.FOLDER / "accelerate.yaml").read_text())
    assert written == fsdp
    assert cmd[1:4] == ["-m", "accelerate.commands.launch", "--config_file"]
    assert cmd[-5:] == ["lab", "train", "r.yaml", "--out", str(tmp_path)]
    # accelerate itself reads the generated file as an FSDP launch of 4 processes
    from accelerate.commands.config.config_args import load_config_from_file  # heavy: accelerate

    loaded = load_config_from_file(str(tmp_path / distributed.FOLDER / "accelerate.yaml"))
    assert loaded.distributed_type == "FSDP" and loaded.num_processes == 4


def test_trl_command_of_several_processes_is_an_accelerate_launch_with_the_generated_config(tmp_path):
    """`--trl-command` with `--num-processes 2`: the config the lab would generate, then TRL's script for the method
    under `accelerate launch --config_file` (accelerate's and TRL's own parsers take the line as it is)."""
    import shlex

    from accelerate.commands.launch import launch_command_parser  # heavy: accelerate
    from trl.scripts.sft import make_parser  # heavy: trl

    recipe = tmp_path / "r.yaml"
    recipe.write_text(TrainRecipe(dataset="rows.json", use_cpu=True, max_steps=3).to_yaml())
    proc = subprocess.run([sys.executable, "-m", "lab", "train", str(recipe), "--num-processes", "2", "--distributed",
                           "ddp", "--trl-command"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    head, rest = proc.stdout.split("cat > accelerate.yaml <<'EOF'\n")
    config, line = rest.split("EOF\n")
    assert yaml.safe_load(config) == distributed.accelerate_config(TrainRecipe(num_processes=2, use_cpu=True), CPU)
    assert line.startswith("CUDA_VISIBLE_DEVICES= accelerate launch --config_file accelerate.yaml -m trl.scripts.sft ")
    argv = shlex.split(line)[3:]
    launch = launch_command_parser().parse_args(argv)
    assert launch.config_file == "accelerate.yaml" and launch.module and launch.training_script == "trl.scripts.sft"
    script, training, *_ = make_parser().parse_args_and_config(launch.training_script_args)
    assert training.max_steps == 3 and training.use_cpu and script.dataset_name == "rows.json"
    one = subprocess.run([sys.executable, "-m", "lab", "train", str(recipe), "--trl-command"], capture_output=True,
                         text=True, timeout=300)
    assert one.stdout.startswith("trl sft ") and "accelerate" not in one.stdout  # one process: trl's CLI as before


def test_cli_refuses_before_launch(tmp_path):
    """`--num-processes 64 --distributed ddp` on this machine: refused with the count, nothing launched."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(TrainRecipe(dataset="x.json", use_cpu=True).to_yaml())
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "lab", "train", str(recipe), "--num-processes", "64",
                           "--distributed", "ddp", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "num_processes is 64" in proc.stderr and "CPU cores" in proc.stderr
    assert not (out / distributed.FOLDER).exists()


def test_memory_estimate_per_gpu_under_fsdp_and_the_preflight_says_where_it_fits(bundled_model):
    """A full fine-tune that does not fit one (faked) A10G's free memory fits four with FSDP: per-GPU weights,
    gradients and optimizer state are a quarter; DDP keeps a whole replica per GPU."""
    facts = model_facts(str(bundled_model), None)
    full = dict(adapter="full", batch_size=2, max_seq_length=256, gradient_checkpointing="on", run_anyway=True)
    mems = {}
    for n, how in ((1, "ddp"), (4, "ddp"), (4, "fsdp")):
        recipe = TrainRecipe(**full, num_processes=n, distributed=how)
        eff, mems[n, how] = preflight.fit_memory(recipe, facts, FOUR_A10G, None, 100, [], free=1.5)
        assert eff.effective_batch == 2 * n  # the effective batch counts every rank
    one, ddp, fsdp = mems[1, "ddp"], mems[4, "ddp"], mems[4, "fsdp"]
    assert one["verdict"] == ddp["verdict"] == "won't fit" and fsdp["verdict"] == "fits"
    assert fsdp["parts_gb"]["optimizer"] == pytest.approx(one["parts_gb"]["optimizer"] / 4, rel=0.02)
    assert ddp["parts_gb"]["optimizer"] == one["parts_gb"]["optimizer"]
    assert fsdp["placement"] == "Fits on 4 × NVIDIA A10G with FSDP, not on 1."
    assert "4 processes (fsdp); the estimate is per GPU" in memory.text(fsdp)


def test_hf_jobs_take_multi_gpu_flavors_and_refuse_too_few_gpus():
    assert {"a10g-largex4", "l40sx8", "a100x4"} <= set(FLAVORS)
    assert [flavor_gpus(f) for f in ("a10g-largex4", "l4x1", "a100-large", "cpu-upgrade")] == [4, 1, 1, 0]
    recipe = TrainRecipe(dataset="someone/data", push_to="someone/out", num_processes=4, distributed="fsdp")
    with pytest.raises(LabError) as err:  # refused before anything reaches the Hub
        submit_hf_job(recipe, "a10g-largex2", "not-a-real-token")
    assert err.value.field == "num_processes" and "has 2 GPUs" in err.value.what and "a10g-largex4" in err.value.fix


def test_too_few_rows_for_every_rank_is_refused_before_launch():
    with pytest.raises(LabError, match="× 2 processes"):
        preflight.check_rows(TrainRecipe(batch_size=2, num_processes=2, use_cpu=True), "sft", 3)
    assert preflight.check_rows(TrainRecipe(batch_size=2, use_cpu=True), "sft", 3)[0] == 3
