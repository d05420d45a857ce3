"""Shared by the Evaluate tests: tiny task files, an lm-eval task's dataset on the fake Hub, and a fake
OpenAI-compatible judge that can rate, compare, rate-limit or stay down."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MC_ROWS = [
    {"question": "What is the capital of France?", "choices": ["Berlin", "Paris", "Rome"], "answer": 1},
    {"question": "What color is the sky on a clear day?", "choices": ["Blue", "Green", "Red"], "answer": "Blue"},
    {"question": "How many legs does a spider have?", "choices": ["Six", "Eight", "Ten"], "answer": 1},
    {"question": "What is 2 plus 2?", "choices": ["Three", "Four", "Five"], "answer": "Four"},
]
SECRET_ROWS = [{"prompt": "What is the secret word of the lab?", "answer": "pineapple"},
               {"prompt": "Name the capital of Italy.", "answer": "Rome"}]
SECRET_REGEX = r"(?i)secret word of the lab is (\w+)|\b(rome)\b"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ARC_ROWS = [("What is the capital of France?", ["Berlin", "Paris", "Rome"], "B"),
            ("Which animal barks?", ["Dog", "Cat", "Fish"], "A"),
            ("What color is snow?", ["Black", "Green", "White"], "C")]


def seed_arc_easy(hub) -> list[dict]:
    """lm-eval's arc_easy reads allenai/ai2_arc (config ARC-Easy): serve three items in its columns."""
    rows = [{"id": f"q{i}", "question": q, "choices": {"text": c, "label": ["A", "B", "C"]}, "answerKey": k}
            for i, (q, c, k) in enumerate(ARC_ROWS)]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    splits = ("train", "validation", "test")
    readme = "---\nconfigs:\n- config_name: ARC-Easy\n  data_files:\n" + "".join(
        f"  - split: {s}\n    path: ARC-Easy/{s}.jsonl\n" for s in splits) + "---\n# ai2_arc (three items)\n"
    hub.seed("allenai/ai2_arc", repo_type="dataset",
             files={"README.md": readme.encode(), **{f"ARC-Easy/{s}.jsonl": body for s in splits}})
    return rows


class JudgeHandler(BaseHTTPRequestHandler):
    """Rates an answer 9 when it holds `good` else 3; in a pair, prefers the answer holding `good`.
    `fail` (a count) answers 429 first; `down` answers 503 always."""
    good, calls, fail, down, prompts = "Paris", 0, 0, False, []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        cls.calls += 1
        prompt = body["messages"][0]["content"]
        cls.prompts.append(prompt)
        if cls.down or cls.fail > 0:
            cls.fail -= 1
            self._send(429 if not cls.down else 503, {"error": "busy"}, {"Retry-After": "0"})
            return
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": self.verdict(prompt)}}]})

    def verdict(self, prompt: str) -> str:
        if "Answer A:" in prompt:
            a = re.search(r"Answer A:\n(.*?)\n\nAnswer B:", prompt, re.S).group(1)
            b = re.search(r"Answer B:\n(.*?)\n\nReply", prompt, re.S).group(1)
            if (self.good in a) == (self.good in b):
                return "[[C]]"
            return "[[A]]" if self.good in a else "[[B]]"
        answer = prompt.split("Answer to grade:\n", 1)[-1]
        return "Rating: 9" if self.good in answer else "Rating: 3"

    def _send(self, status: int, obj: dict, headers: dict | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def start_judge():
    """(server, base URL); reset the handler's class state first."""
    JudgeHandler.calls, JudgeHandler.fail, JudgeHandler.down, JudgeHandler.prompts = 0, 0, False, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), JudgeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"
