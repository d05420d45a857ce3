"""Text as a visitor of a Space may see it: never a path of the server.

An artifact is named by its folder name, an upload by `upload:HASH/NAME` (what the lab calls it), a model the lab
downloaded by its Hub id, and any other absolute path becomes `<path>`. Off a Space the machine is the user's own
and text is shown as it is.
"""
from __future__ import annotations

import re

from lab.settings import get_settings, upload_cache

# an absolute or home path (not a URL's, not a lone "/" or "~5 min")
_PATH = re.compile(r"(?<![\w:/.~-])(?:file://)?(?:~[\w.-]*)?/[^\s'\"`<>|,;)\]]+")
MAX_CHARS = 600


def _one(match: str) -> str:
    path = match.rstrip(".:")
    tail, plain = match[len(path):], path.removeprefix("file://")
    s = get_settings()
    for root, named in ((s.artifacts, lambda rel: rel), (s.home / "uploads", lambda rel: "upload:" + rel),
                        (s.models_root, lambda rel: rel.split("/", 1)[0].replace("--", "/", 1)),
                        (upload_cache(), lambda rel: rel.rsplit("/", 1)[-1])):
        for base in {str(root), str(root.resolve())}:
            if plain.startswith(base + "/") and len(plain) > len(base) + 1:
                return named(plain[len(base) + 1:]) + tail
    return "<path>" + tail


def scrub(text: str) -> str:
    """`text` with every server path replaced (on a Space); unchanged off a Space."""
    if not isinstance(text, str) or not get_settings().on_space:
        return text
    return _PATH.sub(lambda m: _one(m.group(0)), text)


def for_visitor(text: str) -> str:
    """An error or a log line as a Space shows it: no server path, and no megabyte echo of an input."""
    text = scrub(text)
    if not isinstance(text, str) or not get_settings().on_space:
        return text
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "…"


def scrub_value(value):
    """scrub() through dicts and lists (a job record, a result)."""
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_value(v) for v in value]
    return scrub(value)
