"""Lab side: publish the ~270 MB bundled model folder to a fake Hub with `python -m lab push` (in-process CLI).

The fake Hub (tests/fakehub.py) runs in a thread of this process, on /dev/shm when there is one, exactly as in
the baseline (bench/baselines/hub_upload_folder.py). The lab path adds: the sign-in check (whoami), the
exists check, the rendered card and per-group progress. BENCH_RESULT: push_s (CLI start to the URL), mb.
Usage: hub_push.py MODEL_FOLDER
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fakehub import running_fake_hub  # noqa: E402


def main(folder: Path) -> int:
    with running_fake_hub() as hub:
        os.environ.update(HF_ENDPOINT=hub.url, HF_TOKEN=hub.token)
        t0 = time.perf_counter()
        from lab.__main__ import build_parser, main as lab_main

        build_parser()  # imports every stage's CLI module, as `python -m lab` does; timed apart as cli_import_s
        cli_import_s = time.perf_counter() - t0
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            rc = lab_main(["push", str(folder), "--repo", "bench-model"])
        push_s = time.perf_counter() - t0
        url = json.loads(out.getvalue())["url"]
        pushed = hub.files("tester/bench-model") / "model.safetensors"
        ok = rc == 0 and pushed.stat().st_size == (folder / "model.safetensors").stat().st_size
    if not ok:
        print(f"push failed: rc={rc} url={url}", file=sys.stderr)
        return 1
    mb = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6
    print("BENCH_RESULT " + json.dumps({"push_s": round(push_s, 3), "cli_import_s": round(cli_import_s, 3),
                                        "mb": round(mb, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
