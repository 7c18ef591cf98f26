"""Stand-ins for testing the logic around LLM calls offline.

`ScriptedBackend`: each reply is JSON text (validated against the requested
schema exactly as a real backend's output is) or an exception to raise. Replies
come from a fixed script, or from a function of the prompt for answers that
depend on the input. `llama_server`: llama-cpp-python's own OpenAI-compatible
server on a free localhost port, for end-to-end runs of the openai backend.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

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
        self.attempts: list[int] = []
        """The attempt (draw) number of each call: > 0 for a retry or another sample."""

    @property
    def calls(self) -> int:
        return len(self.prompts)

    def generate(
        self, prompt: Prompt, schema: type[T], timeout_s: float, attempt: int = 0
    ) -> Generation[T]:
        self.prompts.append(prompt)
        self.attempts.append(attempt)
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


SERVER_START_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_server(model_path: Path, alias: str, chat_format: str, threads: int = 2
                 ) -> Iterator[str]:
    """`python -m llama_cpp.server` serving `model_path` as `alias`; yields its base URL.

    The chat format is given (the Gemma GGUF ships none: the server's fallback template
    would make it stop after one token). The server process is ended on exit.
    """
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
             "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port),
             "--n_threads", str(threads), "--n_ctx", "4096", "--chat_format", chat_format],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
        try:
            _wait_for(port, proc, log)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            proc.terminate()  # uvicorn may wait for a generation in flight: not for long
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for(port: int, proc: subprocess.Popen, log: IO[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"llama_cpp.server exited: {log.read().decode()[-800:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"llama_cpp.server did not listen on port {port} within "
                       f"{SERVER_START_S:.0f}s")
