"""Baseline: what a user writes without the lab: create a private repo and upload_folder() the model folder.

Same fake Hub as the lab side (bench/sides/_fakehub.py, in a thread of this process).
BENCH_RESULT: push_s (import to done), mb. Usage: hub_upload_folder.py MODEL_FOLDER
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sides"))
from _fakehub import running_fake_hub  # noqa: E402

folder = Path(sys.argv[1])
with running_fake_hub() as hub:
    t0 = time.perf_counter()
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo("tester/bench-model", private=True)
    api.upload_folder(folder_path=folder, repo_id="tester/bench-model")
    push_s = time.perf_counter() - t0
    assert (hub.files("tester/bench-model") / "model.safetensors").is_file()
mb = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6
print("BENCH_RESULT " + json.dumps({"push_s": round(push_s, 3), "mb": round(mb, 1)}))
