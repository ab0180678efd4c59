"""httpx with one deadline for all socket work of a request.

httpx's timeouts are per operation: an endpoint trickling a byte a second never trips them.
`DeadlineTransport` runs httpx over httpcore's plain sockets, with every connect, read, write
and TLS handshake ending by a single monotonic deadline. HTTP actions (`runtime.outgoing`, which
also checks every address it connects to) and the assistant's LLM adapter use it.
"""

import functools
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi's CA bundle), built once: it costs ~10 ms."""
    return httpx.create_ssl_context(trust_env=False)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's plain sockets; whatever they do ends by `deadline` (time.monotonic())."""

    def __init__(self, *, deadline: float) -> None:
        self.deadline = deadline
        self._plain = httpcore.SyncBackend()

    def remaining(self, timeout: float | None, expired: type[Exception]) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise expired("the deadline passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._plain.connect_tcp(
            host,
            port,
            timeout=self.remaining(timeout, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return DeadlineStream(stream, self)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not supported")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class DeadlineStream(httpcore.NetworkStream):
    """A connected stream whose every read, write and TLS handshake ends by the deadline."""

    _WRITE_PIECE = 64 * 1024  # a slow reader cannot stretch one write past the deadline

    def __init__(self, inner: httpcore.NetworkStream, backend: DeadlineBackend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout=self._backend.remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), self._WRITE_PIECE):
            piece = buffer[start : start + self._WRITE_PIECE]
            self._inner.write(piece, timeout=self._backend.remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = self._backend.remaining(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left), self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses `backend` for every socket."""

    def __init__(self, backend: DeadlineBackend) -> None:
        super().__init__(verify=ssl_context(), trust_env=False)
        # httpx takes no network backend; the pool it wraps does, through its public constructor.
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context(), network_backend=backend)
