"""A scripted stand-in for a model, for testing the logic around LLM calls offline.

Each reply is JSON text (validated against the requested schema exactly as a
real backend's output is) or an exception to raise. Replies come from a fixed
script, or from a function of the prompt for answers that depend on the input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from deeprule.llm.types import Generation, InvalidOutputError, Prompt, validation_summary

T = TypeVar("T", bound=BaseModel)
Reply = str | Exception
Responder = Callable[[Prompt, type[BaseModel]], Reply]


class ScriptedBackend:
    """Answers from a script; records every prompt it was sent."""

    name = "scripted"
    settings = ""
    endpoint = "scripted replies"
    mode = "scripted"

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        responder: Responder | None = None,
        model: str = "fake-model",
        tokens_per_call: tuple[int, int] = (100, 20),
    ) -> None:
        self._script = list(replies)
        self._responder = responder
        self.model = model
        self.tokens_per_call = tokens_per_call
        self.prompts: list[Prompt] = []

    @property
    def calls(self) -> int:
        return len(self.prompts)

    def generate(
        self, prompt: Prompt, schema: type[T], timeout_s: float, attempt: int = 0
    ) -> Generation[T]:
        self.prompts.append(prompt)
        reply = self._next(prompt, schema)
        prompt_tokens, completion_tokens = self.tokens_per_call
        if isinstance(reply, Exception):
            raise reply
        try:
            value = schema.model_validate_json(reply)
        except ValidationError as err:
            raise InvalidOutputError(
                f"output does not match {schema.__name__}: {validation_summary(err)}",
                prompt_tokens, completion_tokens,
            ) from err
        return Generation(value, reply, prompt_tokens, completion_tokens)

    def _next(self, prompt: Prompt, schema: type[BaseModel]) -> Reply:
        if self._script:
            return self._script.pop(0)
        if self._responder is not None:
            return self._responder(prompt, schema)
        raise AssertionError("ScriptedBackend ran out of scripted replies")
