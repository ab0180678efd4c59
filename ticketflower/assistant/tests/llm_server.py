"""A chat-completions server on 127.0.0.1 for the LLM generator's tests.

It speaks the OpenAI API the way hosted and local servers do (SSE streaming with a usage
chunk, or one JSON answer, or an error body), replays a script of answers in order and records
every request, so tests assert on what the generator sent. Answers that sleep or trickle wait
on `stop`, so a test's server shuts down at once whatever its handler was doing.
"""

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parent / "recorded"


def recorded(name: str) -> str:
    """A model's answer as it was written, from recorded/<name>."""
    return (RECORDED / name).read_text(encoding="utf-8")


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        messages: list[dict[str, str]] = self.body["messages"]
        return messages

    @property
    def system(self) -> str:
        return self.messages[0]["content"] if self.messages[0]["role"] == "system" else ""

    @property
    def last_user(self) -> str:
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")


Answer = Callable[[BaseHTTPRequestHandler, "ChatServer"], None]


@dataclass
class ChatServer:
    base: str  # what ASSISTANT_API_BASE is set to: http://127.0.0.1:PORT/v1
    received: list[Received] = field(default_factory=list)
    script: deque[Answer] = field(default_factory=deque)
    stop: threading.Event = field(default_factory=threading.Event)

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)


@contextmanager
def chat_server() -> Iterator[ChatServer]:
    state: list[ChatServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            chat = state[0]
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length))
            chat.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if self.path != "/v1/chat/completions":
                error(404, f"No route {self.path}")(self, chat)
            elif chat.script:
                chat.script.popleft()(self, chat)
            else:
                error(500, "The test scripted no more answers.")(self, chat)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the client hung up on a slow answer, as it should

    server = Server(("127.0.0.1", 0), Handler)
    state.append(ChatServer(base=f"http://127.0.0.1:{server.server_address[1]}/v1"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        state[0].stop.set()
        server.shutdown()
        server.server_close()


# --- answers --------------------------------------------------------------------------------


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "test-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _send_event(handler: BaseHTTPRequestHandler, value: Any) -> None:
    data = value if isinstance(value, str) else json.dumps(value)
    handler.wfile.write(f"data: {data}\n\n".encode())
    handler.wfile.flush()


def _start_stream(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
    handler.send_header("Cache-Control", "no-cache")
    handler.end_headers()


def streamed(
    content: str, *, piece: int = 9, usage: tuple[int, int] = (1200, 340), finish: str = "stop"
) -> Answer:
    """`content` streamed `piece` characters at a time, then the finish, usage and [DONE] chunks."""

    def answer(handler: BaseHTTPRequestHandler, chat: ChatServer) -> None:
        _start_stream(handler)
        handler.wfile.write(b": keep-alive\n\n")  # a comment line, as some proxies send
        _send_event(handler, _chunk({"role": "assistant", "content": ""}))
        for start in range(0, len(content), piece):
            _send_event(handler, _chunk({"content": content[start : start + piece]}))
        _send_event(handler, _chunk({}, finish=finish))
        usage_chunk = _chunk({}) | {"choices": []}
        usage_chunk["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1]}
        _send_event(handler, usage_chunk)
        _send_event(handler, "[DONE]")

    return answer


def whole(content: str, *, usage: tuple[int, int] = (900, 200)) -> Answer:
    """One JSON answer, as a server that ignores "stream" gives."""
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }
    return raw(200, json.dumps(body).encode(), "application/json")


def error(status: int, message: str, kind: str = "invalid_request_error") -> Answer:
    """An OpenAI-style error body."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return raw(status, json.dumps(body).encode(), "application/json")


def raw(status: int, body: bytes, content_type: str) -> Answer:
    def answer(handler: BaseHTTPRequestHandler, chat: ChatServer) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def sleeping(seconds: float, then: Answer) -> Answer:
    """Says nothing for `seconds` (or until the server stops), then answers."""

    def answer(handler: BaseHTTPRequestHandler, chat: ChatServer) -> None:
        if not chat.stop.wait(seconds):
            then(handler, chat)

    return answer


def trickling(interval: float = 0.05) -> Answer:
    """A stream that never ends: one character of content every `interval` seconds."""

    def answer(handler: BaseHTTPRequestHandler, chat: ChatServer) -> None:
        _start_stream(handler)
        _send_event(handler, _chunk({"role": "assistant", "content": '{"reply": "'}))
        while not chat.stop.wait(interval):
            _send_event(handler, _chunk({"content": "."}))  # raises once the client hangs up

    return answer


def huge_stream(characters: int) -> Answer:
    """A stream of `characters` of content in 4 kB pieces."""
    return streamed("x" * characters, piece=4096)
