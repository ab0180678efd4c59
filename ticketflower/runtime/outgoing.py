"""Every outgoing HTTP request of an HTTP action (SYNC_ACTION and ASYNC_ACTION tasks).

One function sends: `action_call` POSTs JSON, signed the Standard Webhooks way, and answers
with the endpoint's JSON or raises `ActionFailure`, which says in a sentence a ticket admin can
read what went wrong and whether trying again may help. docs/actions.md tells users the same.

Security invariants:

- Only public addresses are reached. The host is resolved by us, every address it resolves to is
  checked, and the socket is opened to a checked address (never to the name again), so a DNS
  answer that changes between check and connect (rebinding) gains nothing. Host header and TLS
  SNI/certificate checks still use the name in the URL. `ACTIONS_ALLOW_LOOPBACK` lets
  127.0.0.0/8 and ::1 through, for development and tests only.
- No proxy from the environment, no redirects followed, one deadline for the whole exchange
  (resolve, connect, TLS, send, read), at most ACTION_RESPONSE_MAX_BYTES read.
- Plain Python, no ORM: the caller loads the company's secret and records the outcome.
"""

from __future__ import annotations

import json
import random
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from math import floor
from typing import Any, Protocol

import httpcore
import httpx
from django.conf import settings
from standardwebhooks import Webhook

from ticketflower.core.deadline_http import DeadlineBackend, DeadlineStream, DeadlineTransport
from ticketflower.core.limits import JsonRefused, json_loads_bounded
from ticketflower.core.uploads import size_text

USER_AGENT = "TicketFlower"
# A Retry-After beyond this is read as this: an endpoint cannot park a task for days.
RETRY_AFTER_CEILING = 3600.0

IPAddress = IPv4Address | IPv6Address

# Headers only action_call sets (extra headers of these names are dropped), and what an extra
# header may look like: an HTTP token for the name, printable ASCII for the value.
_OURS = frozenset(
    {"webhook-id", "webhook-timestamp", "webhook-signature", "idempotency-key", "content-type", "accept"}
    | {"accept-encoding", "user-agent", "host", "content-length", "transfer-encoding", "connection"}
)
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


@dataclass(frozen=True)
class ActionResponse:
    status_code: int
    body: Any  # the parsed JSON
    duration_ms: int


class ActionFailure(Exception):
    """An action call that did not give a usable answer.

    `reason` is one plain sentence for a ticket admin. `retryable` says whether the same call
    may succeed later (network trouble, timeouts, 408, 429, 5xx); `retry_after` is the seconds
    the endpoint asked us to wait, if it said.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        duration_ms: int,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after
        self.duration_ms = duration_ms


def action_call(
    *,
    url: str,
    body: Any,
    secret: str,
    message_id: str,
    idempotency_key: str,
    timeout_seconds: float,
    extra_headers: Mapping[str, str] | None = None,
) -> ActionResponse:
    """POST `body` as JSON to `url`, signed with the company's `secret`, within `timeout_seconds`.

    `message_id` (the webhook-id) and `idempotency_key` should stay the same when the same call
    is tried again, so the receiver can recognise a repeat. `extra_headers` cannot replace the
    signature, idempotency or content headers.
    """
    started = time.monotonic()
    deadline = started + timeout_seconds

    def failure(reason: str, *, retryable: bool, **more: Any) -> ActionFailure:
        return ActionFailure(reason, retryable=retryable, duration_ms=_elapsed_ms(started), **more)

    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise failure(f"The address {url!r} is not a valid web address.", retryable=False) from exc
    if target.scheme not in ("http", "https") or not target.host:
        raise failure("The address must start with http:// or https://.", retryable=False)
    try:
        payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise failure(f"The data to send cannot be written as JSON: {exc}.", retryable=False) from exc
    for name, value in (extra_headers or {}).items():
        if not _HEADER_NAME.fullmatch(name) or not _HEADER_VALUE.fullmatch(value):
            raise failure(f"The header {name[:60]!r} cannot be sent: use plain ASCII text.", retryable=False)

    headers = {
        **{name: value for name, value in (extra_headers or {}).items() if name.lower() not in _OURS},
        **_signature_headers(secret=secret, message_id=message_id, payload=payload),
        "Idempotency-Key": idempotency_key,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Accept-Encoding": "identity",  # no compressed answers: the size cap counts real bytes
        "User-Agent": USER_AGENT,
    }
    backend = GuardedBackend(deadline=deadline, allow_loopback=settings.ACTIONS_ALLOW_LOOPBACK)
    client = httpx.Client(
        transport=DeadlineTransport(backend),
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(timeout_seconds),
    )
    try:
        with client, client.stream("POST", target, content=payload, headers=headers) as response:
            status, parsed = _read_answer(response, failure)
    except TargetRefused as exc:
        raise failure(exc.reason, retryable=False) from exc
    except httpx.LocalProtocolError as exc:  # we could not write a valid request: trying again won't help
        raise failure(f"The request could not be sent: {exc}.", retryable=False) from exc
    except httpx.TimeoutException as exc:
        raise failure(f"No answer within {timeout_seconds:g} s.", retryable=True) from exc
    except httpx.TransportError as exc:  # connection refused or reset, TLS failure, bad HTTP
        raise failure(_connection_reason(target, exc), retryable=True) from exc
    return ActionResponse(status_code=status, body=parsed, duration_ms=_elapsed_ms(started))


def retry_delay(attempt: int, *, retry_after: float | None, base: float = 1.0, cap: float = 300.0) -> float:
    """Seconds to wait before trying again after failed attempt number `attempt` (1 is the first).

    Exponential backoff with full jitter: a random time between 0 and min(cap, base·2^(attempt-1)),
    so many failing calls spread out. If the endpoint asked for longer (Retry-After), that wins,
    up to RETRY_AFTER_CEILING.
    """
    ceiling = min(cap, base * 2.0 ** min(max(attempt, 1) - 1, 60))
    delay = random.uniform(0.0, ceiling)  # noqa: S311 — jitter, not a secret
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CEILING))
    return delay


# --- signing -------------------------------------------------------------------------------


def _signature_headers(*, secret: str, message_id: str, payload: bytes) -> dict[str, str]:
    """Standard Webhooks headers over exactly the bytes sent.

    The library reads the timestamp as UTC whatever its tzinfo says, so it must be UTC.
    """
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=now, data=payload.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(floor(now.timestamp())),
        "webhook-signature": signature,
    }


# --- reading the answer --------------------------------------------------------------------


class _Failure(Protocol):
    def __call__(self, reason: str, *, retryable: bool, **more: Any) -> ActionFailure: ...


def _read_answer(response: httpx.Response, failure: _Failure) -> tuple[int, Any]:
    status = response.status_code
    said = f"{status} {httpx.codes.get_reason_phrase(status)}".strip()
    if 300 <= status < 400:
        location = response.headers.get("location")
        where = f" to {location[:200]}" if location else ""
        raise failure(
            f"The endpoint redirected{where} ({said}); TicketFlower does not follow redirects: "
            "use the final address.",
            retryable=False,
            status_code=status,
        )
    if not 200 <= status < 300:
        retryable = status in (408, 429) or 500 <= status < 600
        retry_after = _retry_after(response.headers.get("retry-after")) if retryable else None
        raise failure(
            f"The endpoint answered {said}.", retryable=retryable, status_code=status, retry_after=retry_after
        )

    def refuse(reason: str) -> ActionFailure:
        return failure(reason, retryable=False, status_code=status)

    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise refuse(f"The endpoint answered compressed ({encoding[:40]}), which was not asked for.")
    limit = settings.ACTION_RESPONSE_MAX_BYTES
    too_large = f"The answer is larger than {size_text(limit)}."
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise refuse(too_large)
    raw = bytearray()
    for chunk in response.iter_raw():
        raw += chunk
        if len(raw) > limit:
            raise refuse(too_large)
    return status, _parse_json(bytes(raw), refuse)


def _parse_json(raw: bytes, refuse: Callable[[str], ActionFailure]) -> Any:
    try:
        return json_loads_bounded(raw)
    except JsonRefused as exc:
        raise refuse(
            "The endpoint answered with something that is not JSON." if exc.not_json else f"The answer {exc}."
        ) from exc


def _retry_after(header: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not header:
        return None
    text = header.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; a malformed one without a zone is read so too
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _connection_reason(target: httpx.URL, exc: httpx.TransportError) -> str:
    where = f"{target.host}:{target.port}" if target.port else target.host
    detail = str(exc).strip()
    if detail.startswith("[Errno") and "] " in detail:
        detail = detail.split("] ", 1)[1]  # "[Errno 111] Connection refused" → "Connection refused"
    if isinstance(exc, httpx.ConnectError):
        return f"Could not connect to {where}: {detail or 'no reason given'}."
    return f"The connection to {where} broke off: {detail or type(exc).__name__}."


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# --- the address guard ---------------------------------------------------------------------


class TargetRefused(Exception):
    """The endpoint is not somewhere TicketFlower may send requests to."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_LOOPBACK_V4 = IPv4Network("127.0.0.0/8")
_CGNAT = IPv4Network("100.64.0.0/10")
_PRIVATE_NETWORKS = [IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
_UNIQUE_LOCAL_V6 = IPv6Network("fc00::/7")
_NAT64 = IPv6Network("64:ff9b::/96")
_GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")


def address_refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """None if `address` is a public unicast address; otherwise what it is, e.g. "a loopback address".

    An IPv6 address that carries an IPv4 one (NAT64, 6to4) is judged by what it carries;
    IPv4-mapped and Teredo addresses are refused outright. `allow_loopback` lets 127.0.0.0/8
    and ::1 through, nothing else.
    """
    if isinstance(address, IPv4Address):
        if allow_loopback and address in _LOOPBACK_V4:
            return None
        kind = [
            (address in _CGNAT, "a carrier-grade NAT address"),
            (any(address in network for network in _PRIVATE_NETWORKS), "a private-network address"),
        ]
    else:
        if allow_loopback and address == IPv6Address("::1"):
            return None
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if address.teredo is not None:
            return "a Teredo tunnel address"
        carried = address.sixtofour or (IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None)
        if carried is not None:
            inner = address_refusal(carried)
            return f"an IPv6 address carrying {carried}, {inner}" if inner else None
        kind = [
            (address.is_site_local, "a site-local address"),
            (address in _UNIQUE_LOCAL_V6, "a private-network address"),
            (address not in _GLOBAL_UNICAST_V6, "not a global unicast address"),
        ]
    checks = [
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address, where cloud metadata services answer"),
        (address.is_multicast, "a multicast address"),
        *kind,
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a globally routable address"),
    ]
    return next((what for refused, what in checks if refused), None)


# Name lookups have no timeout of their own: they run here so a caller can stop waiting.
_resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="action-dns")


def resolve_checked(host: str, port: int, *, timeout: float, allow_loopback: bool) -> list[IPAddress]:
    """The addresses `host` resolves to, if every one of them may be reached; else TargetRefused.

    Refusing when any address is non-public (not just the one we would pick) leaves nothing to
    gain from a name that mixes public and private answers.
    """
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        answers = lookup.result(timeout=max(timeout, 0.0))
    except FutureTimeout as exc:
        raise httpcore.ConnectTimeout(f"looking up {host} took too long") from exc
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError("the name could not be resolved") from exc
    addresses = list(dict.fromkeys(ip_address(str(info[4][0]).split("%", 1)[0]) for info in answers))
    if not addresses:
        raise httpcore.ConnectError("the name could not be resolved")
    for address in addresses:
        refusal = address_refusal(address, allow_loopback=allow_loopback)
        if refusal:
            named = host.strip("[]") != str(address)
            which = f"{host} resolves to {address}, which" if named else str(address)
            raise TargetRefused(f"Refused: {which} is not a public address ({refusal}).")
    return addresses


class GuardedBackend(DeadlineBackend):
    """httpcore's network layer with the address check, and one deadline for all socket work.

    httpcore hands `connect_tcp` the URL's host and starts TLS with that same name afterwards, so
    connecting to the checked IP here keeps SNI and certificate checks on the name.
    """

    def __init__(self, *, deadline: float, allow_loopback: bool) -> None:
        super().__init__(deadline=deadline)
        self.allow_loopback = allow_loopback

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_checked(
            host,
            port,
            timeout=self.remaining(timeout, httpcore.ConnectTimeout),
            allow_loopback=self.allow_loopback,
        )
        failed: Exception | None = None
        for address in addresses:  # a dual-stack name: try the next if one does not answer
            try:
                stream = self._plain.connect_tcp(
                    str(address),
                    port,
                    timeout=self.remaining(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failed = exc
                continue
            return DeadlineStream(stream, self)
        assert failed is not None  # noqa: S101 — resolve_checked never answers an empty list
        raise failed

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise TargetRefused("Refused: unix sockets are not reachable from actions.")
