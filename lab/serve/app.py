"""The OpenAI-compatible routes: /v1/models, /v1/chat/completions (with SSE streaming) and /v1/completions."""
from __future__ import annotations

import hmac
import json
import time
import uuid

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from lab.chat.registry import Registry
from lab.errors import LabError
from lab.serve import generate
from lab.serve.batcher import Batcher
from lab.serve.models import ServedModel
from lab.serve.requests import ApiError, ChatBody, CompletionBody, max_tokens, parse_body
from lab.settings import get_settings


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


class Service:
    """What the routes answer for: the served models, the registry holding them, the key (None: no key asked), and
    the batcher that runs their generations."""

    def __init__(self, models: list[ServedModel], registry: Registry, api_key: str | None = None):
        self.models = {m.name: m for m in models}
        self.registry, self.api_key = registry, api_key or None
        self.batcher = Batcher()
        self.created = int(time.time())

    def check_key(self, request: Request) -> None:
        if self.api_key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.api_key.encode()):
            raise ApiError(401, "A valid API key is needed: send the header 'Authorization: Bearer KEY'.")

    def model(self, name: str) -> ServedModel:
        if name not in self.models:
            raise ApiError(404, f"The model {name!r} is not served here. Served: {', '.join(self.models)}.",
                           "model", {"models": list(self.models)})
        return self.models[name]

    def acquire(self, model: ServedModel):
        try:
            return self.registry.acquire(model.text)
        except LabError as exc:
            raise ApiError(503, f"{model.name} cannot be loaded: {exc}", "model") from None

    def preload(self) -> None:
        """Load every model (and adapter) before the server says it is ready."""
        for model in self.models.values():
            handle = self.acquire(model)
            handle.release()


async def _json(request: Request):
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nesting too deep to parse
        raise ApiError(400, "The body is not valid JSON.", "body") from None


def _sse(obj) -> str:
    return f"data: {json.dumps(obj)}\n\n"


def build_app(service: Service) -> Starlette:
    cap = get_settings().max_new_tokens_cap

    async def models(request: Request):
        try:
            service.check_key(request)
        except ApiError as exc:
            return _error(exc)
        data = [{"id": name, "object": "model", "created": service.created, "owned_by": "lab"}
                for name in service.models]
        return JSONResponse({"object": "list", "data": data})

    async def answer(request: Request, chat: bool):
        try:
            service.check_key(request)
            body = parse_body(ChatBody if chat else CompletionBody, await _json(request))
            model = service.model(body.model)
            params = generate.Params(max_tokens(body, cap), 1.0 if body.temperature is None else body.temperature,
                                     1.0 if body.top_p is None else body.top_p, body.seed, body.stop or [])
            pieces = await run_in_threadpool(_begin, service, model, body, params, chat)  # owns the handle
        except ApiError as exc:
            return _error(exc)
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        head = {"id": rid, "object": "chat.completion" if chat else "text_completion", "created": int(time.time()),
                "model": model.name}
        if body.stream:
            return StreamingResponse(iterate_in_threadpool(_events(pieces, head, chat, body.include_usage)),
                                     media_type="text/event-stream")
        try:
            text, final = await run_in_threadpool(_collect, pieces)
        except ApiError as exc:
            return _error(exc)
        choice = ({"index": 0, "message": {"role": "assistant", "content": text}} if chat
                  else {"index": 0, "text": text, "logprobs": None})
        return JSONResponse({**head, "choices": [{**choice, "finish_reason": final["finish_reason"]}],
                             "usage": final["usage"]})

    async def chat_completions(request: Request):
        return await answer(request, chat=True)

    async def completions(request: Request):
        return await answer(request, chat=False)

    return Starlette(routes=[
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
    ])


def _begin(service: Service, model: ServedModel, body, params: generate.Params, chat: bool):
    """Load (or share) the model, encode the request and hand it to its batch: one trip to a worker thread, so
    generation starts as soon as it can."""
    handle = service.acquire(model)
    try:
        ids = generate.encode(handle, [m.plain() for m in body.messages] if chat else None,
                              None if chat else body.prompt, params.max_tokens)
    except BaseException:
        handle.release()
        raise
    return generate.stream(service.batcher, handle, ids, params)


def _collect(pieces) -> tuple[str, dict]:
    text, final = "", {}
    for piece, end in pieces:
        text += piece
        final = end or final
    return text, final


def _events(pieces, head: dict, chat: bool, include_usage: bool):
    """Server-sent events in OpenAI's chunk shape, ending with `data: [DONE]`."""
    kind = "chat.completion.chunk" if chat else "text_completion"

    def chunk(text: str | None, reason=None, role=False) -> dict:
        if chat:
            delta = ({"role": "assistant"} if role else {}) | ({"content": text} if text is not None else {})
            choice = {"index": 0, "delta": delta, "finish_reason": reason}
        else:
            choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": reason}
        return {**head, "object": kind, "choices": [choice]}

    try:
        if chat:
            yield _sse(chunk("", role=True))
        for piece, final in pieces:
            if final is None:
                yield _sse(chunk(piece))
                continue
            yield _sse(chunk(None if chat else "", final["finish_reason"]))
            if include_usage:
                yield _sse({**head, "object": kind, "choices": [], "usage": final["usage"]})
    except ApiError as exc:  # the status is sent already: the error goes as an event
        yield _sse(exc.body())
    finally:
        pieces.close()
    yield "data: [DONE]\n\n"
