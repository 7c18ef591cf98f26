"""A real HTTP server on a free localhost port that speaks just enough of the OpenAI chat API.

Its `answer` function sees each request body and returns (status, JSON body); every body
is kept in `requests`, so tests can check what the client sent.
"""

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = Callable[[dict], tuple[int, dict]]
LLAMA_CPP_REJECTION = {"error": {"code": 500, "type": "server_error", "message": (
    "1 validation error: response_format.type: Input should be 'text' or 'json_object'")}}
"""What llama-cpp-python's server answers to `response_format={"type": "json_schema"}`."""


def completion(content: str, prompt_tokens: int = 40, completion_tokens: int = 8) -> dict:
    return {"id": "c", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


class FakeServer:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[dict] = []

    @property
    def response_formats(self) -> list[str]:
        return [(r.get("response_format") or {}).get("type", "none") for r in self.requests]


@contextmanager
def serving(answer: Answer) -> Iterator[tuple[FakeServer, str]]:
    """The running server and its base URL (…/v1); stopped on exit."""
    state = FakeServer(answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            status, reply = state.answer(body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
