"""Outgoing action calls against real HTTP servers on 127.0.0.1, and the address guard on its own."""

import json
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from standardwebhooks import Webhook, WebhookVerificationError

from ticketflower.runtime.outgoing import (
    RETRY_AFTER_CEILING,
    ActionFailure,
    ActionResponse,
    action_call,
    address_refusal,
    retry_delay,
)
from ticketflower.tenancy.models import new_webhook_secret

ROOT = Path(__file__).resolve().parents[3]
SECRET = new_webhook_secret()
BODY = {"ticket": 42, "item": "Laptop", "note": "ünïcode ✓"}

# --- a real endpoint ------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Endpoint:
    url: str
    port: int
    seen: list[Seen] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


Answer = Callable[[BaseHTTPRequestHandler, Endpoint], None]


@contextmanager
def endpoint(answer: Answer) -> Iterator[Endpoint]:
    """An HTTP server in a thread on 127.0.0.1 that records each request and lets `answer` reply."""
    state: list[Endpoint] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            state[0].seen.append(Seen("POST", self.path, dict(self.headers.items()), self.rfile.read(length)))
            answer(self, state[0])

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the client hung up on a slow answer, as it should

    server = Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    state.append(Endpoint(url=f"http://127.0.0.1:{port}/hook", port=port))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        state[0].stop.set()
        server.shutdown()
        server.server_close()


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
    def answer(handler: BaseHTTPRequestHandler, _: Endpoint) -> None:
        handler.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def reply_json(value: Any, status: int = 200) -> Answer:
    return reply(status, json.dumps(value).encode(), {"Content-Type": "application/json"})


def call(url: str, **overrides: Any) -> ActionResponse:
    arguments: dict[str, Any] = {
        "url": url,
        "body": BODY,
        "secret": SECRET,
        "message_id": "msg_task-7-attempt",
        "idempotency_key": "task-7",
        "timeout_seconds": 5.0,
    }
    return action_call(**(arguments | overrides))


def failure_of(url: str, **overrides: Any) -> ActionFailure:
    with pytest.raises(ActionFailure) as caught:
        call(url, **overrides)
    return caught.value


# --- answers --------------------------------------------------------------------------------


def test_a_json_answer_comes_back_parsed_with_status_and_duration() -> None:
    with endpoint(reply_json({"approved": True, "id": "PO-1"}, status=201)) as hook:
        response = call(hook.url)
    assert response.status_code == 201
    assert response.body == {"approved": True, "id": "PO-1"}
    assert 0 <= response.duration_ms < 5000


def test_the_request_is_a_json_post_with_our_user_agent() -> None:
    with endpoint(reply_json({})) as hook:
        call(hook.url)
    [seen] = hook.seen
    assert (seen.method, seen.path) == ("POST", "/hook")
    assert json.loads(seen.body) == BODY
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == "TicketFlower"


def test_a_2xx_answer_that_is_not_json_fails_for_good() -> None:
    with endpoint(reply(200, b"<html>OK</html>", {"Content-Type": "text/html"})) as hook:
        failure = failure_of(hook.url)
    assert failure.reason == "The endpoint answered with something that is not JSON."
    assert (failure.retryable, failure.status_code) == (False, 200)


def test_an_empty_2xx_answer_is_not_json() -> None:
    with endpoint(reply(204)) as hook:
        failure = failure_of(hook.url)
    assert (failure.retryable, failure.status_code) == (False, 204)


def test_nan_in_an_answer_is_not_json() -> None:
    with endpoint(reply(200, b'{"total": NaN}')) as hook:
        assert "not JSON" in failure_of(hook.url).reason


def test_an_answer_with_a_nul_character_is_refused_as_unstorable() -> None:
    with endpoint(reply(200, b'{"name": "a\\u0000b"}')) as hook:
        failure = failure_of(hook.url)
    assert "cannot be stored" in failure.reason
    assert not failure.retryable


def test_an_answer_nested_too_deep_is_refused() -> None:
    with endpoint(reply(200, b"[" * 5000 + b"]" * 5000)) as hook:
        failure = failure_of(hook.url)
    assert failure.reason == "The answer nests more than 64 levels deep."


def test_a_404_fails_for_good_and_says_so() -> None:
    with endpoint(reply(404, b"nope")) as hook:
        failure = failure_of(hook.url)
    assert failure.reason == "The endpoint answered 404 Not Found."
    assert (failure.retryable, failure.status_code, failure.retry_after) == (False, 404, None)


def test_a_500_with_retry_after_seconds_may_be_retried_after_them() -> None:
    with endpoint(reply(500, b"oops", {"Retry-After": "120"})) as hook:
        failure = failure_of(hook.url)
    assert failure.reason == "The endpoint answered 500 Internal Server Error."
    assert (failure.retryable, failure.status_code, failure.retry_after) == (True, 500, 120.0)


def test_a_503_with_a_retry_after_date_gives_the_seconds_until_then() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    with endpoint(reply(503, headers={"Retry-After": later})) as hook:
        failure = failure_of(hook.url)
    assert failure.retryable
    assert failure.retry_after is not None and 85 <= failure.retry_after <= 90


@pytest.mark.parametrize("status", [408, 429])
def test_timeouts_and_rate_limits_may_be_retried(status: int) -> None:
    with endpoint(reply(status, headers={"Retry-After": "3"})) as hook:
        failure = failure_of(hook.url)
    assert (failure.retryable, failure.status_code, failure.retry_after) == (True, status, 3.0)


def test_a_redirect_is_not_followed_and_fails_for_good() -> None:
    with endpoint(reply(302, headers={"Location": "/elsewhere"})) as hook:
        failure = failure_of(hook.url)
    assert len(hook.seen) == 1
    assert failure.reason.startswith("The endpoint redirected to /elsewhere (302 Found)")
    assert (failure.retryable, failure.status_code) == (False, 302)


def test_a_slow_endpoint_is_given_up_on_at_the_deadline() -> None:
    def never(handler: BaseHTTPRequestHandler, hook: Endpoint) -> None:
        hook.stop.wait(10)

    with endpoint(never) as hook:
        started = time.monotonic()
        failure = failure_of(hook.url, timeout_seconds=1.0)
        elapsed = time.monotonic() - started
    assert failure.reason == "No answer within 1 s."
    assert failure.retryable
    assert elapsed < 2.0


def test_an_endpoint_trickling_its_answer_is_cut_off_at_the_deadline() -> None:
    """Each byte comes well within a read timeout; only a deadline for the whole call stops it."""

    def trickle(handler: BaseHTTPRequestHandler, hook: Endpoint) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        while not hook.stop.wait(0.1):
            handler.wfile.write(b" ")
            handler.wfile.flush()

    with endpoint(trickle) as hook:
        started = time.monotonic()
        failure = failure_of(hook.url, timeout_seconds=1.0)
        elapsed = time.monotonic() - started
    assert failure.reason == "No answer within 1 s."
    assert elapsed < 2.0


@override_settings(ACTION_RESPONSE_MAX_BYTES=1000)
def test_an_answer_declared_over_the_size_limit_is_refused() -> None:
    with endpoint(reply(200, b"[" + b"1," * 600 + b"1]")) as hook:
        failure = failure_of(hook.url)
    assert failure.reason == "The answer is larger than 1 KB."
    assert not failure.retryable


@override_settings(ACTION_RESPONSE_MAX_BYTES=1000)
def test_an_answer_without_a_length_is_stopped_once_over_the_size_limit() -> None:
    def endless(handler: BaseHTTPRequestHandler, hook: Endpoint) -> None:
        handler.send_response(200)
        handler.end_headers()  # HTTP/1.0 and no Content-Length: the body runs until we hang up
        handler.wfile.write(b"[")
        while not hook.stop.is_set():
            handler.wfile.write(b"1," * 100)

    with endpoint(endless) as hook:
        failure = failure_of(hook.url)
    assert failure.reason == "The answer is larger than 1 KB."


def test_a_compressed_answer_is_refused() -> None:
    with endpoint(reply(200, b"\x1f\x8b not really", {"Content-Encoding": "gzip"})) as hook:
        failure = failure_of(hook.url)
    assert failure.reason == "The endpoint answered compressed (gzip), which was not asked for."
    assert hook.seen[0].headers["Accept-Encoding"] == "identity"


def test_a_closed_port_may_be_retried() -> None:
    with endpoint(reply_json({})) as hook:
        port = hook.port  # free again once the server is gone
    failure = failure_of(f"http://127.0.0.1:{port}/hook")
    assert failure.reason == f"Could not connect to 127.0.0.1:{port}: Connection refused."
    assert failure.retryable


def test_an_address_that_is_not_http_fails_for_good() -> None:
    failure = failure_of("file:///etc/passwd")
    assert (failure.reason, failure.retryable) == ("The address must start with http:// or https://.", False)


def test_data_that_is_not_json_is_not_sent() -> None:
    with endpoint(reply_json({})) as hook:
        failure = failure_of(hook.url, body={"when": datetime.now(UTC)})
    assert failure.reason.startswith("The data to send cannot be written as JSON")
    assert not failure.retryable
    assert hook.seen == []


# --- signing and idempotency ----------------------------------------------------------------


def test_the_receiver_verifies_the_signature_with_the_company_secret() -> None:
    with endpoint(reply_json({})) as hook:
        call(hook.url)
    [seen] = hook.seen
    assert Webhook(SECRET).verify(seen.body, seen.headers) == BODY
    assert seen.headers["webhook-id"] == "msg_task-7-attempt"
    assert abs(int(seen.headers["webhook-timestamp"]) - time.time()) < 5


def test_another_secret_does_not_verify() -> None:
    with endpoint(reply_json({})) as hook:
        call(hook.url)
    [seen] = hook.seen
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(seen.body, seen.headers)


def test_the_idempotency_key_is_sent() -> None:
    with endpoint(reply_json({})) as hook:
        call(hook.url, idempotency_key="ticket-9-task-approve")
    assert hook.seen[0].headers["Idempotency-Key"] == "ticket-9-task-approve"


def test_extra_headers_are_sent_but_cannot_replace_ours_in_any_case() -> None:
    extra = {"X-Api-Key": "k-123", "Webhook-Signature": "v1,forged", "content-type": "text/plain"}
    with endpoint(reply_json({})) as hook:
        call(hook.url, extra_headers=extra)
    [seen] = hook.seen
    assert seen.headers["X-Api-Key"] == "k-123"
    assert seen.headers["Content-Type"] == "application/json"
    assert Webhook(SECRET).verify(seen.body, seen.headers) == BODY


@pytest.mark.parametrize(
    "extra", [{"X-Note": "one\r\nX-Injected: two"}, {"X-Name": "Zoë"}, {"Bad Name": "x"}]
)
def test_an_extra_header_that_is_not_plain_text_fails_for_good_without_sending(extra: dict[str, str]) -> None:
    with endpoint(reply_json({})) as hook:
        failure = failure_of(hook.url, extra_headers=extra)
    assert failure.reason.endswith("cannot be sent: use plain ASCII text.")
    assert not failure.retryable
    assert hook.seen == []


def test_the_docs_verification_example_accepts_a_real_request() -> None:
    docs = (ROOT / "docs" / "actions.md").read_text()
    example = re.search(r"```python\n(.*?)```", docs, flags=re.DOTALL)
    assert example is not None
    namespace: dict[str, Any] = {}
    exec(example.group(1), namespace)  # noqa: S102 — our own documentation
    with endpoint(reply_json({})) as hook:
        call(hook.url)
    [seen] = hook.seen
    assert namespace["verified_body"](SECRET, seen.body, seen.headers) == BODY
    with pytest.raises(WebhookVerificationError):
        namespace["verified_body"](SECRET, seen.body.replace(b"42", b"43"), seen.headers)


# --- the address guard through action_call ---------------------------------------------------


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("127.0.0.1", "127.0.0.1 is not a public address (a loopback address)"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 is not a public address (an IPv4-mapped IPv6 address)"),
        ("2130706433", "2130706433 resolves to 127.0.0.1, which is not a public address"),
        ("0x7f.1", "0x7f.1 resolves to 127.0.0.1, which is not a public address"),
        ("017700000001", "017700000001 resolves to 127.0.0.1, which is not a public address"),
        ("localhost", "localhost resolves to"),
    ],
)
@override_settings(ACTIONS_ALLOW_LOOPBACK=False)
def test_loopback_in_any_spelling_is_refused_without_sending(host: str, says: str) -> None:
    with endpoint(reply_json({})) as hook:
        failure = failure_of(f"http://{host}:{hook.port}/hook")
    assert failure.reason.startswith(f"Refused: {says}")
    assert not failure.retryable
    assert hook.seen == []


@override_settings(ACTIONS_ALLOW_LOOPBACK=False)
def test_the_cloud_metadata_address_is_refused() -> None:
    failure = failure_of("http://169.254.169.254/latest/meta-data/")
    assert failure.reason.startswith("Refused: 169.254.169.254 is not a public address (a link-local")
    assert not failure.retryable


def test_a_name_keeps_its_host_header_while_the_checked_address_is_dialled() -> None:
    with endpoint(reply_json({})) as hook:
        call(f"http://localhost:{hook.port}/hook")
    assert hook.seen[0].headers["Host"] == f"localhost:{hook.port}"


def test_tls_is_started_with_the_name_for_sni_and_the_certificate_is_checked(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key)]
    self_signed = ["-x509", "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"]
    command = ["/usr/bin/env", "openssl", "req", *new_key, *self_signed]
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _socket, name, _context: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve_one() -> None:
        connection, _ = listener.accept()
        try:
            context.wrap_socket(connection, server_side=True).close()
        except (ssl.SSLError, OSError):
            connection.close()  # our self-signed certificate is rightly turned down

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    with listener:
        failure = failure_of(f"https://localhost:{listener.getsockname()[1]}/hook")
        thread.join(5)
    assert names == ["localhost"]
    assert "certificate verify failed" in failure.reason
    assert failure.retryable


# --- the address check on its own -----------------------------------------------------------

REFUSED = [
    "0.0.0.0",  # noqa: S104 — unspecified (checked, not bound)
    "0.1.2.3",  # "this network"
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.5",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "100.64.0.1",  # carrier-grade NAT
    "100.127.255.254",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "192.0.0.8",
    "::",
    "::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.5",
    "::ffff:8.8.8.8",  # mapped is refused whatever it maps
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "fe80::1",  # link-local
    "fe80::1%1",
    "fc00::1",  # unique local
    "fd12:3456:789a::1",
    "fec0::1",  # site-local (deprecated)
    "ff02::1",  # multicast
    "ff0e::1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
    "64:ff9b:1::a00:5",  # local-use NAT64
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:5::1",  # 6to4 of 10.0.0.5
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:db8::1",  # documentation
    "100::1",  # discard
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "2606:4700:4700::1111",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_a_non_public_address_is_refused(address: str) -> None:
    assert address_refusal(ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_a_public_address_is_allowed(address: str) -> None:
    assert address_refusal(ip_address(address)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1"])
def test_allowing_loopback_allows_127_slash_8_and_ipv6_loopback(address: str) -> None:
    assert address_refusal(ip_address(address)) == "a loopback address"
    assert address_refusal(ip_address(address), allow_loopback=True) is None


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::1",
        "0.0.0.0",  # noqa: S104 — an address to check, not one to bind
        "10.0.0.5",
        "169.254.169.254",
    ],
)
def test_allowing_loopback_allows_nothing_else(address: str) -> None:
    assert address_refusal(ip_address(address), allow_loopback=True)


def test_a_refusal_names_what_the_address_is() -> None:
    assert address_refusal(ip_address("100.64.0.1")) == "a carrier-grade NAT address"
    assert address_refusal(ip_address("64:ff9b::a00:5")) == (
        "an IPv6 address carrying 10.0.0.5, a private-network address"
    )


# --- retry_delay ----------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 8, 9, 12, 40])
def test_a_retry_waits_between_zero_and_the_doubling_bound_capped(attempt: int) -> None:
    bound = min(300.0, 2.0 ** (attempt - 1))
    delays = [retry_delay(attempt, retry_after=None) for _ in range(300)]
    assert all(0.0 <= delay <= bound for delay in delays)
    assert max(delays) > bound / 2  # jitter spreads over the whole range


def test_later_attempts_wait_longer() -> None:
    first = max(retry_delay(1, retry_after=None, base=2.0) for _ in range(100))
    sixth = max(retry_delay(6, retry_after=None, base=2.0) for _ in range(100))
    assert first <= 2.0 < sixth <= 64.0


def test_a_longer_retry_after_wins_over_the_backoff() -> None:
    assert retry_delay(1, retry_after=900.0) == 900.0


def test_a_shorter_retry_after_does_not_shorten_the_backoff() -> None:
    delays = [retry_delay(9, retry_after=1.0) for _ in range(100)]
    assert all(1.0 <= delay <= 256.0 for delay in delays)
    assert max(delays) > 10.0


def test_retry_after_is_honoured_only_up_to_the_ceiling() -> None:
    assert retry_delay(1, retry_after=10.0**9) == RETRY_AFTER_CEILING


def test_a_huge_attempt_number_stays_at_the_cap() -> None:
    assert 0.0 <= retry_delay(10_000, retry_after=None) <= 300.0
