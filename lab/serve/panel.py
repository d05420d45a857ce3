"""The Serve panel's logic without gradio: one server per app process, the owner's to start and stop; what each
caller is shown. The server shares the chat registry, so a model the Chat tab holds is not loaded twice."""
from __future__ import annotations

import threading

from lab.access import Caller
from lab.errors import LabError
from lab.serve.models import default_refs, plan
from lab.serve.server import Server, check_start
from lab.settings import get_settings

VISITOR_NOTE = "The lab's OpenAI-compatible server is the owner's: only the owner of this lab starts, stops and uses it."
_server: Server | None = None
_lock = threading.Lock()


def refs_from(text: str, caller: Caller) -> list[str]:
    refs = [line.strip() for line in (text or "").replace(",", "\n").splitlines() if line.strip()]
    return refs or default_refs(caller)


def start(caller: Caller, models_text: str, port, api_key: str = "") -> str:
    global _server
    caller.require_owner("Serving models")
    host = "0.0.0.0" if get_settings().on_space else "127.0.0.1"
    check_start(host, api_key or None)
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise LabError(f"Port {port!r} is not a number.", "Give a port such as 8000.", "port") from None
    if not 1024 <= port < 65536:  # below 1024: the system's ports
        raise LabError(f"Port {port} is out of range.", "Give a port between 1024 and 65535, such as 8000.", "port")
    with _lock:
        if _server is not None and _server.running:
            raise LabError("The server is running already.", "Stop it first to serve other models.", "serve")
        models = plan(caller, refs_from(models_text, caller))
        _server = Server(models, host, port, api_key or None).start()
    return status(caller)


def stop(caller: Caller) -> str:
    global _server
    caller.require_owner("Stopping the server")
    with _lock:
        if _server is not None:
            _server.stop()
        _server = None
    return status(caller)


def status(caller: Caller) -> str:
    if not caller.is_owner:
        return VISITOR_NOTE
    if not get_settings().serve_allowed:
        return "Serving is off on this Space; set the variable LAB_SERVE=1 to turn it on (an API key is then needed)."
    if _server is None or not _server.running:
        return "Not serving. Pick models (one per line; empty: the bundled model and your artifacts) and start."
    models = ", ".join(f"`{m}`" for m in _server.models)
    key = " · clients send your API key" if _server.service.api_key else ""
    return f"Serving at `{_server.url}`{key} · models: {models}"


def snippet(caller: Caller) -> str:
    """Python that calls the running server, as a user pastes it (the key by its variable, never its value)."""
    if not caller.is_owner or _server is None or not _server.running:
        return ""
    key = 'os.environ["LAB_SERVE_API_KEY"]' if _server.service.api_key else '"none"'
    return (f'import os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url="{_server.url}", api_key={key})\n'
            f'reply = client.chat.completions.create(\n    model="{_server.models[0]}",\n'
            f'    messages=[{{"role": "user", "content": "Hello!"}}],\n    max_tokens=64,\n)\n'
            f'print(reply.choices[0].message.content)\n')
