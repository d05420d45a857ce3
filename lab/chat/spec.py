"""ChatSpec: the shared system prompt and generation settings for every pane, validated once.

`max_new_tokens` above the cap (LAB_MAX_NEW_TOKENS) is clamped, and `spec.notices` says so.
"""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from lab.errors import LabError
from lab.settings import get_settings
from lab.validation import Recipe, value_error

MAX_PANES = 4


class ChatSpec(Recipe):
    WHAT: ClassVar[str] = "chat settings"
    FIELD: ClassVar[str] = "settings"
    START: ClassVar[str] = "Write `field: value` lines."

    models: list[str] = Field(
        default_factory=list,
        description="Models to compare (up to 4): a Hub id, the bundled default, a local model folder, "
                    "an adapter folder, or BASE+ADAPTER_FOLDER.")
    system_prompt: str = Field(
        "", description="Sent to every model as the first (system) message. Leave empty for none.")
    temperature: float = Field(
        0.7, ge=0.0, le=2.0,
        description="Randomness of sampling. 0 always picks the most likely token (greedy); 0.7 is a common choice.")
    top_p: float = Field(
        0.9, gt=0.0, le=1.0,
        description="Nucleus sampling: sample only from the most likely tokens whose probabilities add up to top_p.")
    max_new_tokens: int = Field(
        256, ge=1, description="The longest reply, in tokens. Values above the server's cap are clamped to it.")
    repetition_penalty: float = Field(
        1.1, ge=1.0, le=2.0, description="Above 1 discourages repeating tokens already in the text; 1 turns it off.")
    seed: int | None = Field(
        None, ge=0,
        description="Fixes sampling so the same prompt gives the same reply. Empty for a fresh draw each time.")
    load_in_4bit: bool = Field(
        False, description="Load the models in 4-bit (bitsandbytes NF4) to fit bigger ones. Needs a CUDA GPU.")

    _notices: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _clamp(self) -> "ChatSpec":
        cap = get_settings().max_new_tokens_cap
        if self.max_new_tokens > cap:
            self._notices.append(f"max_new_tokens {self.max_new_tokens} is above this server's cap; "
                                 f"clamped to {cap} (LAB_MAX_NEW_TOKENS).")
            self.max_new_tokens = cap
        return self

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str]) -> list[str]:
        value = [m.strip() for m in value if m and m.strip()]
        if len(value) > MAX_PANES:
            raise ValueError(f"at most {MAX_PANES} models side by side; remove {len(value) - MAX_PANES}")
        return value

    @property
    def notices(self) -> list[str]:
        return list(self._notices)

    @property
    def sampling(self) -> bool:
        return self.temperature > 0

    def generate_kwargs(self) -> dict:
        """Keyword arguments for `model.generate` (sampling itself is done by the seeded sampler)."""
        return {"max_new_tokens": self.max_new_tokens, "repetition_penalty": self.repetition_penalty,
                "do_sample": False}

    @classmethod
    def prepare(cls, data: dict) -> dict:
        """A widget left empty (None) keeps its default; an empty seed means a fresh draw."""
        values = {k: v for k, v in data.items() if v is not None or k == "seed"}
        if values.get("seed") in ("", None):
            values["seed"] = None
        return values

    @classmethod
    def invalid(cls, exc: ValidationError, data: dict) -> LabError:
        return value_error(exc, cls, cls.FIELD)  # the value given, and the field's help as the fix


def build_spec(values: dict) -> ChatSpec:
    """Validate user values into a ChatSpec; a bad value becomes a LabError naming the field."""
    return ChatSpec.parse(values)


def spec_from_values(models, system, temperature, top_p, max_new_tokens, repetition_penalty, seed, load_in_4bit):
    """The Chat tab's widget values (in its order) as a ChatSpec."""
    return build_spec({"models": [m for m in models if m], "system_prompt": system or "",
                       "temperature": temperature, "top_p": top_p,
                       "max_new_tokens": int(max_new_tokens) if max_new_tokens not in (None, "") else 256,
                       "repetition_penalty": repetition_penalty, "seed": None if seed in (None, "") else int(seed),
                       "load_in_4bit": bool(load_in_4bit)})
