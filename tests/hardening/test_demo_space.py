"""The public demo Space (LAB_DEMO=1) as an anonymous visitor reaches it through gradio_client: nothing it does
writes an artifact, and no text field lets it read a file outside Gradio's upload cache."""
from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.hardening.conftest import running_app
from tests.ui.test_space_modes import SPACE_ENV
from tests.unit.data_fixtures import write_alpaca

SIGN_IN = "needs you signed in"
pytestmark = pytest.mark.filterwarnings(  # Gradio's Spaces hot-reloader thread wants the `spaces` package: harmless
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture(scope="module")
def demo_space(tmp_path_factory):
    """The app in this process as the public demo Space runs it: Space mode, LAB_DEMO=1, no token, the Hub
    reachable (the fake one: offline, Hub ids would be refused before anything reads them)."""
    import gradio.oauth

    from lab import settings
    from tests.fakehub import FakeHub, use_fake_hub

    scratch = tmp_path_factory.mktemp("demo")
    hub = FakeHub(scratch / "hub").start()
    with pytest.MonkeyPatch.context() as mp:
        use_fake_hub(mp, hub.url, scratch / "hf")
        mp.setenv("LAB_HOME", str(scratch / "home"))
        for name, value in {**SPACE_ENV, "LAB_DEMO": "1"}.items():
            mp.setenv(name, value)
            if hasattr(gradio.oauth, name):
                mp.setattr(gradio.oauth, name, value)  # read once at gradio's import
        mp.delenv("HF_TOKEN", raising=False)
        settings.reset_caches()
        with running_app(max_size=256) as (demo, url):
            yield demo, url
    hub.stop()
    settings.reset_caches()


def test_anonymous_exports_on_the_demo_are_refused_and_write_nothing(demo_space, lab_home, tmp_path):
    from lab.chat import arena

    _, url = demo_space
    arena.record_vote(arena.Battle("acme/a", "acme/b"), [{"role": "user", "content": "Hi"}], "Hello!", "Go away.",
                      "a")
    client = Client(url, verbose=False)
    with pytest.raises(AppError, match=SIGN_IN):
        client.predict("votes", api_name="/arena_export")
    path, _ = write_alpaca(tmp_path / "rows.jsonl")
    recipe = client.predict([handle_file(str(path))], "", "", "train", None, "auto", api_name="/data_load")[2]
    assert "exact_dedup" in recipe
    client.predict(recipe, api_name="/data_run")  # a small run: in this session, in memory
    with pytest.raises(AppError, match=SIGN_IN):
        client.predict("mine", api_name="/data_export")
    assert not (lab_home / "artifacts").exists() or not any((lab_home / "artifacts").iterdir())


CANARY = "canary-7f3c2a9e"  # in every file planted outside the upload cache; it must never come back


def _plant(root):
    """acme/data: a dataset; acme/model: a model, an artifact and a card. Each file holds the canary."""
    import json

    data, model = root / "acme" / "data", root / "acme" / "model"
    data.mkdir(parents=True)
    model.mkdir()
    (data / "rows.jsonl").write_text(json.dumps({"instruction": CANARY, "input": "", "output": CANARY}) + "\n")
    (model / "config.json").write_text(json.dumps({"architectures": [f"{CANARY}ForCausalLM"], "model_type": "llama"}))
    (model / "lab.json").write_text(json.dumps({"kind": "dataset", "name": CANARY, "parents": []}))
    (model / "README.md").write_text(f"# {CANARY}\n")
    return data


def _hostile(root, folder) -> list[str]:
    """Absolute, relative and `~` paths, Hub-id-shaped local folders, `..` segments, file:// and web URLs, a 1 MB
    string and a NUL byte."""
    return [str(folder), str(folder / "rows.jsonl"), "acme/data", "acme/data/../data", f"../{root.name}/acme/data",
            "~/acme/data", f"file://{folder}", str(folder.parent / "model"), "acme/model",
            "https://example.com/acme/data.jsonl", "x" * 1_000_000, "acme/data\x00"]


RECIPES = ["sources:\n  - path: {}\n", "sources:\n  - hub: {}\n", "dataset: {}\nmodel: {}\n",
           "sources:\n  - path: {}\nsteps:\n  - type: clusters\n    model: {}\n"]


def _default(param):
    kind = param["python_type"]["type"]
    if kind in ("int", "float"):
        return 1  # the smallest work: one new token, one row
    if kind == "bool":
        return False
    if param["parameter_has_default"]:
        return param["parameter_default"]
    return "" if kind == "str" else None


def _values(param, hostile, folder) -> list:
    """What goes into one field: every hostile string into a text field or an open choice (and into a recipe's
    paths); one into a choice with fixed options (Gradio checks those); hostile file records into a file field."""
    kind = param["python_type"]["type"]
    if kind == "str" or kind == "Literal[]":
        values = list(hostile)
        if param["component"] == "Code" or param["parameter_name"] in ("text", "recipe"):
            values += [t.format(v, v) for t in RECIPES for v in hostile[:7]]
        return values
    if kind.startswith("Literal"):
        return hostile[:1]
    if "filepath" in kind:
        files = [str(folder / "rows.jsonl"), "acme/data/rows.jsonl", "~/acme/data/rows.jsonl", f"file://{folder}"]
        records = [{"path": f, "meta": {"_type": "gradio.FileData"}} for f in files]
        return [[r] for r in records] if kind.startswith("list") else records
    return []


def _cases(info, hostile, folder):
    """(endpoint, arguments, raw) with one hostile value in one field, for every field of every public endpoint.
    raw: a file record, sent as a hostile client sends it (gradio_client would upload its own copy of the file)."""
    for name, ep in info["named_endpoints"].items():
        params = ep["parameters"]
        base = [_default(p) for p in params]
        for i, p in enumerate(params):
            for v in _values(p, hostile, folder):
                yield name, [*base[:i], v, *base[i + 1:]], "filepath" in p["python_type"]["type"]


def _raw_call(demo, url: str, name: str, args: list) -> tuple[object, bool]:
    """Join the queue as a browser does, with the event's session-state inputs as None; (output, is_error)."""
    import json

    import httpx

    index, fn = next((i, f) for i, f in demo.fns.items() if f.api_name == name.lstrip("/"))
    given = iter(args)
    data = [None if getattr(c, "stateful", False) else next(given) for c in fn.inputs]
    session = f"hostile-{index}-{id(args)}"
    with httpx.Client(base_url=url, timeout=120) as http:
        http.post("gradio_api/queue/join", json={"data": data, "fn_index": index, "session_hash": session,
                                                 "event_data": None, "trigger_id": None}).raise_for_status()
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                msg = json.loads(line[5:]) if line.startswith("data:") else {}
                if msg.get("msg") == "process_completed":
                    out = msg.get("output") or {}
                    return (out.get("error") or "", True) if not msg.get("success") else (out.get("data"), False)
    raise AssertionError("the queue never completed the call")


def _texts(value, downloads):
    """Every string in a result, and the content of the files gradio_client downloaded for it."""
    from pathlib import Path

    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v, downloads)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v, downloads)]
    out = [str(value)]
    if isinstance(value, str) and value.startswith(str(downloads)) and Path(value).is_file():
        out.append(Path(value).read_text(errors="replace"))
    return out


@pytest.mark.slow  # ~400 calls through the queue
def test_hostile_strings_in_every_public_endpoint_read_nothing_outside_the_upload_cache(
        demo_space, lab_home, tmp_path, monkeypatch):
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from lab import settings

    demo, url = demo_space
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the (fake) Hub answers: Hub ids are really looked up
    settings.reset_caches()
    root = tmp_path / "outside"
    folder = _plant(root)
    monkeypatch.chdir(root)  # "acme/data" names the canary here: a Hub-id-shaped local folder
    monkeypatch.setenv("HOME", str(root))  # and "~/acme/data" too
    downloads = tmp_path / "downloads"
    client = Client(url, verbose=False, download_files=str(downloads))
    info = client.view_api(return_format="dict", print_info=False)
    assert {"/data_load", "/data_hub_preview", "/artifact_card", "/model_info", "/chat"} <= set(info["named_endpoints"])
    server_paths = [str(lab_home), str(Path(__file__).resolve().parents[2])]  # not sent: must not be told

    def call(case):
        name, args, raw = case
        try:
            if raw:
                out, error = _raw_call(demo, url, name, args)
                return name, _texts(out, downloads), error
            return name, _texts(client.predict(*args, api_name=name), downloads), False
        except AppError as exc:
            return name, [str(exc)], True
        except Exception as exc:  # refused before the app (a request gradio_client cannot send): harmless
            return name, [f"{type(exc).__name__}: {exc}"[:2000]], False

    cases = list(_cases(info, _hostile(root, folder), folder))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, cases))
    leaks = [(n, t[:200]) for n, texts, _ in results for t in texts if CANARY in t]
    disclosed = [(n, t[:200]) for n, texts, error in results for t in texts
                 if error and any(p in t for p in server_paths)]
    assert len(cases) > 300
    assert leaks == [], (Counter(n for n, _ in leaks), leaks[:3])
    assert disclosed == [], (Counter(n for n, _ in disclosed), disclosed[:3])
    assert client.predict(api_name="/jobs_list") is not None  # and the app still answers
