"""Lab side: `python -m lab merge CONFIG --preflight` for two Hub models served by the fake Hub.

The fake Hub (tests/fakehub.py) runs in a thread of this process, seeded with two repos holding SmolLM2's real
config and tokenizer files plus a listed (never fetched) safetensors file. preflight_s is the CLI call: parse,
fetch config files into a cold cache, check, estimate. BENCH_RESULT also counts weight requests (must be 0).
Usage: merge_preflight.py MODELS_DIR
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fakehub import running_fake_hub  # noqa: E402

CONFIG_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                "chat_template.jinja", "README.md")


def main(bundled: Path) -> int:
    with running_fake_hub() as hub:
        os.environ["HF_ENDPOINT"] = hub.url
        os.environ["HF_HOME"] = tempfile.mkdtemp(dir=os.environ.get("BENCH_TMP"))  # a cold cache every run
        files = {n: (bundled / n).read_bytes() for n in CONFIG_FILES if (bundled / n).is_file()}
        for repo in ("acme/smol-chat", "acme/smol-code"):
            hub.seed(repo, files={**files, "model.safetensors": b"\0" * 1024})
        cfg = Path(tempfile.mkdtemp(dir=os.environ.get("BENCH_TMP"))) / "dare.yml"
        cfg.write_text("models:\n  - model: acme/smol-chat\n  - model: acme/smol-code\n"
                       "    parameters: {weight: 0.5, density: 0.5}\nmerge_method: dare_ties\n"
                       "base_model: acme/smol-chat\n")
        t0 = time.perf_counter()
        from lab.__main__ import main as lab_main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = lab_main(["merge", str(cfg), "--preflight"])
        preflight_s = time.perf_counter() - t0
        report = json.loads(out.getvalue())
        weights = sum(1 for _, path in hub.requests if ".safetensors" in path and "/resolve/" in path)
    if rc != 0 or not report["ok"]:
        print(f"preflight failed: rc={rc} {report.get('checks')}", file=sys.stderr)
        return 1
    print("BENCH_RESULT " + json.dumps({"preflight_s": round(preflight_s, 3), "weight_requests": weights,
                                        "models": len(report["models"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
