"""The request bodies of the OpenAI API, checked: a bad field is an ApiError (HTTP 400) naming it, never a 500."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lab.chat.prompt import flatten_content
from lab.validation import field_path

MAX_STOPS = 4  # OpenAI's own limit on stop strings
DEFAULT_MAX_TOKENS = 256


class ApiError(Exception):
    """An answer in OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str, param: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.extra = status, message, param, extra or {}

    def body(self) -> dict:
        kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error"}.get(
            self.status, "server_error")
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": None, **self.extra}}


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="ignore")  # fields a client sends that the lab does not use (user, logit_bias…)

    model: str = Field(min_length=1, max_length=1000)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, lt=2**63)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: dict | None = None
    n: int = Field(1, ge=1, le=1, description="one choice per request")

    @field_validator("stop")
    @classmethod
    def _stops(cls, value):
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > MAX_STOPS:
            raise ValueError(f"at most {MAX_STOPS} stop strings")
        return [s for s in stops if s]

    def wanted_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list | None = None

    def plain(self) -> dict:
        role = "system" if self.role == "developer" else self.role
        return {"role": role, "content": flatten_content(self.content)}


class ChatBody(_Sampling):
    messages: list[Message] = Field(min_length=1)


class CompletionBody(_Sampling):
    prompt: str | list[str]

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value):
        if isinstance(value, list):
            if len(value) != 1:
                raise ValueError("one prompt per request")
            value = value[0]
        return value


def parse_body(kind: type[_Sampling], data) -> _Sampling:
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.", "body")
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = field_path(err) or "body"  # without pydantic's union-member tags (str, list[...])
        raise ApiError(400, f"{field}: {err['msg'].removeprefix('Value error, ')}", field) from None


def max_tokens(body: _Sampling, cap: int) -> int:
    """The reply's length in tokens; over the server's cap is refused (a 400 with the limit), never clamped."""
    wanted = body.wanted_tokens()
    field = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
    if wanted is not None and wanted > cap:
        raise ApiError(400, f"{field} is {wanted}, over this server's limit of {cap} (LAB_MAX_NEW_TOKENS).", field,
                       {"limit": cap})
    return wanted or min(DEFAULT_MAX_TOKENS, cap)
