"""A running server: uvicorn in a thread of this process (the CLI, the Serve panel and the tests share it)."""
from __future__ import annotations

import ipaddress
import threading
import time

import uvicorn

from lab.chat.registry import Registry, get_registry
from lab.errors import LabError
from lab.serve.app import Service, build_app
from lab.serve.models import ServedModel
from lab.settings import get_settings

START_TIMEOUT_S = 30.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_start(host: str, api_key: str | None) -> None:
    """Refusals before anything loads: off on a Space unless the owner turned it on; a key off localhost."""
    s = get_settings()
    if not s.serve_allowed:
        raise LabError("Serving models is off on this Space.",
                       "The Space's owner can turn it on with the variable LAB_SERVE=1 (an API key is then needed).",
                       "serve")
    if (s.on_space or not is_loopback(host)) and not api_key:
        raise LabError(f"A server on {host} is reachable from other machines, so it needs an API key.",
                       "Pass --api-key KEY (or set LAB_SERVE_API_KEY), or serve on 127.0.0.1.", "api_key")


class Server:
    def __init__(self, models: list[ServedModel], host: str = "127.0.0.1", port: int = 8000,
                 api_key: str | None = None, registry: Registry | None = None):
        check_start(host, api_key)
        self.host, self.port = host, port
        self.service = Service(models, registry or get_registry(), api_key)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def models(self) -> list[str]:
        return list(self.service.models)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else ("[::1]" if self.host == "::" else self.host)
        return f"http://{host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, preload: bool = True) -> "Server":
        if preload:
            self.service.preload()
        config = uvicorn.Config(build_app(self.service), host=self.host, port=self.port, log_level="warning",
                                access_log=False, lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="lab-serve")
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise LabError(f"The server did not start on {self.host}:{self.port} (is the port in use?).",
                               "Pick another --port.", "port")
            time.sleep(0.05)
        if self.port == 0:  # the OS picked a free port
            self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def ready_line(self) -> dict:
        """What the CLI prints when ready (never the key)."""
        return {"url": self.url, "models": self.models}
