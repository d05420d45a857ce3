"""An ASGI middleware that refuses uploads of file types a browser could run (.html, .svg, .js, …).

Gradio accepts any upload; a lab never needs active content, so we refuse it at the door. The multipart
part headers (with the filename) are scanned as the body streams in, without buffering the body.
"""
from __future__ import annotations

import re

BLOCKED_EXTENSIONS = (".html", ".htm", ".xhtml", ".svg", ".svgz", ".js", ".mjs", ".xml", ".shtml")
_FILENAME = re.compile(rb'filename\*?="?([^"\r\n;]*)', re.I)
UPLOAD_SUFFIX = "/upload"


def blocked_name(name: str) -> bool:
    return name.strip().lower().rstrip(". ").endswith(BLOCKED_EXTENSIONS)


class UploadGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope["path"].endswith(UPLOAD_SUFFIX):
            return await self.app(scope, receive, send)
        state = {"blocked": "", "tail": b"", "responded": False}

        async def guarded_receive():
            message = await receive()
            if message["type"] == "http.request" and not state["blocked"]:
                chunk = state["tail"] + message.get("body", b"")
                for m in _FILENAME.finditer(chunk):
                    name = m.group(1).decode("utf-8", "replace")
                    if blocked_name(name):
                        state["blocked"] = name
                state["tail"] = chunk[-512:]  # a header split across chunks is still seen
            if state["blocked"]:
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if state["blocked"]:
                if not state["responded"]:
                    state["responded"] = True
                    await _refuse(send, state["blocked"])
                return
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if not state["blocked"]:
                raise
        if state["blocked"] and not state["responded"]:
            state["responded"] = True
            await _refuse(send, state["blocked"])


async def _refuse(send, name: str) -> None:
    body = (f"Upload refused: {name!r} is a file type the lab does not accept "
            f"({', '.join(BLOCKED_EXTENSIONS)}). Upload data files (.jsonl, .json, .csv, .parquet, .yaml).").encode()
    await send({"type": "http.response.start", "status": 415,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
