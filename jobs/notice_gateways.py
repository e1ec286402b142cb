"""The notice gateway's adapters for the outbox (``jobs.outbox``): ``WebhookAdapter`` POSTs each
notice to the gateway's URL (``ARREARS_NOTICE_WEBHOOK_URL``), signed and keyed; ``PrintAdapter``
prints it, its destination masked (development only). An adapter never raises: it answers with
a ``Reply`` the outbox turns into the notice's fate (``domain.notices.outbox.answer_of``).
``webhook_problem`` says what is wrong with a configured gateway before anything is sent."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO
from urllib.parse import urlsplit

import httpx

from domain.contacts.model import ContactPointKind
from domain.notices.outbox import Answer, answer_of, mask_destination

# The gateway's whole answer (connection, request, response) within this long, or the notice
# is tried again later.
TIMEOUT_SECONDS = 10.0
# The most of the gateway's answer read (its providerRef is all the outbox wants of it).
MAX_ANSWER_BYTES = 64 * 1024


def webhook_problem(url: str, secret: str | None, *, development: bool) -> str | None:
    """What makes a gateway URL (and its secret) unusable, in words for the operator (None: it
    is fine): an http(s) URL with a host; outside development, https and a signing secret."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "ARREARS_NOTICE_WEBHOOK_URL is not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return "ARREARS_NOTICE_WEBHOOK_URL must be an http(s) URL with a host"
    if development:
        return None
    if parts.scheme != "https":
        return (
            "ARREARS_NOTICE_WEBHOOK_URL must be https outside ARREARS_ENV=development (the "
            "notices carry personal data)"
        )
    if not secret:
        return (
            "ARREARS_NOTICE_WEBHOOK_SECRET must be set outside ARREARS_ENV=development (it "
            "signs each request)"
        )
    return None


@dataclass(frozen=True)
class Outgoing:
    """One notice as the gateway gets it (``to``: the address or number in clear)."""

    notice_id: int
    channel: str
    to: str
    to_kind: ContactPointKind
    language: str
    subject: str | None
    body: str
    case_reference: str


@dataclass(frozen=True)
class Reply:
    """The gateway's answer (``error``: a status code or ``timeout``, never personal data)."""

    answer: Answer
    provider_ref: str | None = None
    error: str | None = None


class Gateway(Protocol):
    async def send(self, message: Outgoing) -> Reply:
        """Hands one notice to the gateway; never raises for the gateway's own failures."""
        ...


def _provider_ref(answer: bytes) -> str | None:
    """``providerRef`` (or ``id``) of a JSON answer, when it is a short string or number."""
    try:
        data = json.loads(answer)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    for key in ("providerRef", "id"):
        value = data.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            text = str(value).strip()
            if 0 < len(text) <= 200:
                return text
    return None


class WebhookAdapter:
    """POSTs each notice as JSON to the gateway's URL (``ARREARS_NOTICE_WEBHOOK_URL``).

    The body: ``noticeId`` (``notice_id`` of the notice's row id: the CLI passes the GraphQL
    global ID, which ``recordNoticeDelivery`` takes back), ``channel``, ``to`` (in clear: the
    gateway needs it), ``language``, ``subject``, ``body``, ``caseReference``. Headers:
    ``Idempotency-Key: notice-<id>``, ``X-Arrears-Timestamp: <Unix seconds>`` and, with a
    secret, ``X-Arrears-Signature: sha256=<hex HMAC-SHA256>`` of the bytes
    ``<timestamp>.<idempotency key>.<body>`` (the gateway refuses an old timestamp: a replay).
    The whole exchange has ``timeout`` seconds; at most ``MAX_ANSWER_BYTES`` of the answer are
    read."""

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        *,
        notice_id: Callable[[int], str] = str,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.secret = secret.encode() if secret else None
        self.notice_id = notice_id
        self.timeout = timeout
        self.clock = clock
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), transport=transport, follow_redirects=False
        )

    async def __aenter__(self) -> WebhookAdapter:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    def payload(self, message: Outgoing) -> bytes:
        """The exact bytes posted (and signed)."""
        document = {
            "noticeId": self.notice_id(message.notice_id),
            "channel": message.channel,
            "to": message.to,
            "language": message.language,
            "subject": message.subject,
            "body": message.body,
            "caseReference": message.case_reference,
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    def signature(self, timestamp: str, key: str, body: bytes) -> str | None:
        """``sha256=<hex>`` of ``<timestamp>.<key>.<body>`` with the secret (None without one)."""
        if self.secret is None:
            return None
        signed = f"{timestamp}.{key}.".encode() + body
        return "sha256=" + hmac.new(self.secret, signed, hashlib.sha256).hexdigest()

    def request(self, message: Outgoing) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a notice's request."""
        body = self.payload(message)
        key = f"notice-{message.notice_id}"
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",  # the answer read as it comes, never inflated
            "Idempotency-Key": key,
            "X-Arrears-Timestamp": timestamp,
        }
        signature = self.signature(timestamp, key, body)
        if signature is not None:
            headers["X-Arrears-Signature"] = signature
        return body, headers

    async def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POSTs and reads at most ``MAX_ANSWER_BYTES`` of the answer."""
        async with self.client.stream("POST", self.url, content=body, headers=headers) as answer:
            read = bytearray()
            async for chunk in answer.aiter_raw():
                read += chunk[: MAX_ANSWER_BYTES - len(read)]
                if len(read) >= MAX_ANSWER_BYTES:
                    break
            return answer.status_code, bytes(read)

    async def send(self, message: Outgoing) -> Reply:
        try:
            body, headers = self.request(message)
        except Exception as exc:  # a text that cannot be sent at all: sending again won't help
            return Reply(Answer.REJECTED, error=f"not sendable ({type(exc).__name__})")
        try:
            async with asyncio.timeout(self.timeout):
                status, answer = await self._post(body, headers)
        except (TimeoutError, httpx.TimeoutException):
            return Reply(Answer.UNAVAILABLE, error="timeout")
        except Exception as exc:  # no connection, a broken answer: the gateway may have it
            return Reply(Answer.UNAVAILABLE, error=f"no answer ({type(exc).__name__})")
        verdict = answer_of(status)
        if verdict is Answer.ACCEPTED:
            return Reply(verdict, provider_ref=_provider_ref(answer))
        return Reply(verdict, error=f"HTTP {status}")


class PrintAdapter:
    """Development only: prints each notice as one JSON line (the destination masked, the body
    as it would be sent) and takes it as sent."""

    def __init__(self, stream: TextIO, *, notice_id: Callable[[int], str] = str) -> None:
        self.stream = stream
        self.notice_id = notice_id

    async def send(self, message: Outgoing) -> Reply:
        try:
            line = {
                "noticeId": self.notice_id(message.notice_id),
                "channel": message.channel,
                "to": mask_destination(message.to_kind, message.to),
                "language": message.language,
                "subject": message.subject,
                "body": message.body,
                "caseReference": message.case_reference,
            }
            self.stream.write(json.dumps(line, ensure_ascii=False) + "\n")
            self.stream.flush()
        except Exception as exc:
            return Reply(Answer.REJECTED, error=f"not printable ({type(exc).__name__})")
        return Reply(Answer.ACCEPTED)
