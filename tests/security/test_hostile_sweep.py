"""The adversarial sweep: every event function of the real app (public, undocumented and private, called by
fn_index through the queue as a browser or a hostile client would) gets hostile values, field by field, from an
anonymous visitor of the demo, a signed-in visitor of a duplicated Space, and that Space's owner.

Planted around it: a canary file outside the lab's folders (reachable by a relative, `~`, absolute or file:// path,
or a Hub-id-shaped local folder), and another visitor's job, artifact and upload holding a second canary. Whatever
is called, no canary comes back, no server path shows in any output, the Space's own token never leaves in a
request, a server standing in for "the attacker" receives nothing, and the app still answers afterwards.
"""
from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from lab import jobs, uploads
from lab.jobs import store
from lab.artifacts import finalize, new_folder
from tests.security.conftest import SESSIONS

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(  # Gradio's Spaces hot-reloader: harmless
    "ignore:(?s)Exception in thread.*spaces. package is required:pytest.PytestUnhandledThreadExceptionWarning")]

OUTSIDE = "canary-outside-3c9f1e"  # in files planted outside the lab's folders
ALICE = "canary-alice-77d0b2"  # in another visitor's job, artifact and upload
CALL_S = 12  # longest wait for one event's answer (a stream still going after it: what it said so far counts)
SKIP = {"lab-tour"}  # concurrency ids of events that start long work whatever they are sent (refused on the demo)
jobs.register_kind("test.sweep.count", "tests.runners:count", heavy=False)


class Attacker(BaseHTTPRequestHandler):
    """Records every request; stands in for the visitor's own server and for the cloud metadata address."""
    seen: list = []

    def _any(self):
        Attacker.seen.append((self.command, self.path, dict(self.headers)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"choices": [{"message": {"content": "Score: 5"}}]}')

    do_GET = do_POST = do_PUT = _any

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def attacker():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _plant(root: Path, home: Path) -> Path:
    """The outside canary (a data file, a model folder with a card), and alice's job, artifact and upload."""
    data, model = root / "acme" / "data", root / "acme" / "model"
    data.mkdir(parents=True)
    model.mkdir()
    (data / "rows.jsonl").write_text(json.dumps({"instruction": OUTSIDE, "input": "", "output": OUTSIDE}) + "\n")
    (model / "config.json").write_text(json.dumps({"architectures": [f"{OUTSIDE}ForCausalLM"], "model_type": "llama"}))
    (model / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(model)}))
    (model / "README.md").write_text(f"# {OUTSIDE}\n")
    src = root / "alice-rows.jsonl"
    src.write_text(json.dumps({"prompt": ALICE, "completion": ALICE}) + "\n")
    kept = uploads.store(src, "alice")
    folder = new_folder("dataset", "alice-private")
    (folder / "data.jsonl").write_text(src.read_text())
    finalize(folder, "dataset", [], recipe={"notes": ALICE}, owner="alice")
    store.create("test.sweep.count", "tests.runners:count", False, f"n: 1\nnote: {ALICE}\ndataset: {kept}\n",
                 title=ALICE, artifact_dir=folder, owner="alice")  # recorded only (the demo runs no job)
    return data, uploads.ref(kept), folder


def _hostile(root: Path, data: Path, upload: str, theirs: Path, attacker: str) -> list[str]:
    return [str(data / "rows.jsonl"), "acme/data", "acme/model", "~/acme/data", f"file://{data}",
            f"../{root.name}/acme/data", f"x+{data.parent / 'model'}", upload, theirs.name, str(theirs),
            f"{attacker}/v1", "http://169.254.169.254/latest/meta-data/", "(a+)+$", "x" * 100_000, "HF_TOKEN"]


TEXTUAL = ("Textbox", "Code", "Dropdown", "JSON")  # fields a hostile value can go into as text


def _free_text(comp) -> bool:
    """A field that takes any text (a choice among fixed options is checked by Gradio before the app sees it)."""
    if type(comp).__name__ not in TEXTUAL or getattr(comp, "stateful", False):
        return False
    return type(comp).__name__ != "Dropdown" or bool(getattr(comp, "allow_custom_value", False))


def _wire(comp):
    """A component's starting value as the browser sends it."""
    if getattr(comp, "stateful", False):
        return None
    if type(comp).__name__ == "Number":
        return 1  # the smallest work: one new token, one row, one step
    value = comp.value() if callable(comp.value) else comp.value
    try:
        value = comp.postprocess(value)
    except Exception:
        return None
    return value.model_dump() if hasattr(value, "model_dump") else value


def _cases(demo, hostile: list[str], quick: list[str]):
    """(fn_index, value, data) with one hostile value in one text field. Every free-text field of every event
    function gets each `quick` value (a path to the outside canary, another visitor's upload and artifact, the
    attacker's URL); a public function also gets each other hostile value once, its fields taking them in turn.
    A function wired to many events (a form's every field re-rendering its YAML) is driven once per input position."""
    seen = set()
    for index, fn in demo.fns.items():
        if fn.fn is None or fn.concurrency_id in SKIP:
            continue
        code = getattr(getattr(fn.fn, "__wrapped__", fn.fn), "__code__", None)
        fields = [i for i, comp in enumerate(fn.inputs) if _free_text(comp) and (code, i) not in seen]
        if not fields:
            continue
        seen.update((code, i) for i in fields)
        base = [_wire(c) for c in fn.inputs]
        rest = [v for v in hostile if v not in quick] if fn.api_visibility == "public" else []
        shots = [(i, v) for i in fields for v in quick] + [(fields[n % len(fields)], v) for n, v in enumerate(rest)]
        for i, v in shots:
            yield index, v, [*base[:i], v, *base[i + 1:]]


def _call(app, headers: dict | None, index: int, data: list) -> str:
    """`_send`, once more on a dropped connection (a loaded server's socket may be reset mid-stream); a server
    that is gone fails the last call, and the sweep's final check."""
    try:
        return _send(app, headers, index, data)
    except httpx.TransportError:
        time.sleep(1)
        return _send(app, headers, index, data)


def _send(app, headers: dict | None, index: int, data: list) -> str:
    """One event as the browser sends it (through the queue, or straight for an unqueued one); the whole answer
    (outputs or error) as text."""
    session = f"sweep-{index}-{abs(hash(json.dumps(data, default=str))) % 10**9}"
    body = {"data": data, "fn_index": index, "session_hash": session, "event_data": None, "trigger_id": None}
    with httpx.Client(base_url=app.url, timeout=60, headers=headers or {}) as http:
        if not app.demo.fns[index].queue:
            return http.post("gradio_api/run/predict", json=body).text
        r = http.post("gradio_api/queue/join", json=body)
        if r.status_code != 200:
            return r.text
        out, deadline = [], time.time() + CALL_S
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                out.append(line)
                msg = json.loads(line[5:]) if line.startswith("data:") else {}
                if msg.get("msg") in ("process_completed", "close_stream", "unexpected_error"):
                    break
                if time.time() > deadline:  # a stream still going (a chat reply): what it said so far counts
                    out.append("<still running>")
                    break
    return "\n".join(out)


def _busy(demo) -> list[str]:
    """What the app still runs: events in its queue, and handlers whose caller has gone (Gradio drops the event,
    its thread runs on to the end)."""
    q = demo._queue
    queued = [e.fn.name for job in q.active_jobs if job for e in job]
    queued += [e.fn.name for eq in list(q.event_queue_per_concurrency_id.values()) for e in list(eq.queue)]
    lab = str(Path(__file__).resolve().parents[2] / "lab" / "ui")
    handlers = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        names = [f.f_code.co_name for f, _ in traceback.walk_stack(frame) if f.f_code.co_filename.startswith(lab)]
        if names and "_background" not in names:
            handlers.append(names[-1])
    return queued + handlers


def _wait_idle(demo, limit_s: float = 300) -> None:
    """Wait until the app has finished what it was sent, so no work of the sweep runs on under later tests."""
    start = time.time()
    while _busy(demo) and time.time() - start < limit_s:
        time.sleep(0.5)


@pytest.mark.parametrize("mode,who", [  # the demo's app and the Space's are built on different workers
    pytest.param("demo", None, marks=pytest.mark.xdist_group("sweep-demo")),
    pytest.param("space", "bob", marks=pytest.mark.xdist_group("sweep-space")),
    pytest.param("space", "tester", marks=pytest.mark.xdist_group("sweep-space"))])
def test_hostile_values_in_every_event_read_nothing_leak_nothing(request, mode, who, tmp_path, monkeypatch,
                                                                  attacker, online):
    from lab.settings import get_settings

    app = request.getfixturevalue(mode)
    home = get_settings().home
    root = tmp_path / "outside"
    data, upload, theirs = _plant(root, home)
    monkeypatch.chdir(root)  # "acme/data" names the canary here: a Hub-id-shaped local folder
    monkeypatch.setenv("HOME", str(root))  # and "~/acme/data" too
    Attacker.seen.clear()
    app.hub.auth_log.clear()
    hostile = _hostile(root, data, upload, theirs, attacker)
    quick = [str(data.parent / "model"), upload, theirs.name, f"{attacker}/v1"]
    headers = app.headers.get(who) if who else None
    cases = list(_cases(app.demo, hostile, quick))
    with ThreadPoolExecutor(8) as pool:  # an echo of what the visitor sent tells them nothing new: left out
        answers = list(pool.map(lambda c: (c[0], _call(app, headers, c[0], c[2]).replace(c[1], "")), cases))
    _wait_idle(app.demo)
    server_paths = [str(home), str(Path(__file__).resolve().parents[2]), str(root)]
    leaks = [(i, OUTSIDE) for i, text in answers if OUTSIDE in text]
    if who != "tester":  # the owner may see alice's work; a visitor never
        leaks += [(i, ALICE) for i, text in answers if ALICE in text]
    paths = [(i, p) for i, text in answers for p in server_paths if p in text]
    assert len(cases) > 300
    assert len(app.demo.state_holder.session_data) <= SESSIONS  # one client's fresh sessions cannot fill the memory
    assert leaks == [], leaks[:5]
    assert paths == [], [(app.demo.fns[i].name, p) for i, p in paths[:5]]
    assert app.canary_seen() == []
    if who != "tester":
        assert Attacker.seen == []
    assert httpx.get(app.url + "gradio_api/app_id", timeout=5).status_code == 200
