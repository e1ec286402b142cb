"""The notice gateway's adapters for the outbox (``jobs.outbox``): ``WebhookAdapter`` POSTs each
notice to the gateway's URL (``ARREARS_NOTICE_WEBHOOK_URL``), signed and keyed; ``PrintAdapter``
prints it, its destination masked (development only). An adapter never raises for the gateway's
own failures: it answers with a ``Reply`` the outbox turns into the notice's fate
(``domain.notices.outbox.answer_of``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO

import httpx

from domain.contacts.model import ContactPointKind
from domain.notices.outbox import Answer, answer_of, mask_destination

# The gateway's answer within this long, or the notice is tried again later.
TIMEOUT_SECONDS = 5.0


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


def _provider_ref(response: httpx.Response) -> str | None:
    """``providerRef`` (or ``id``) of a JSON answer, when it is a short string or number."""
    try:
        data = response.json()
    except ValueError:
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
    ``Idempotency-Key: notice-<id>`` and, with a secret, ``X-Arrears-Signature:
    sha256=<hex HMAC-SHA256 of the body bytes>``."""

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        *,
        notice_id: Callable[[int], str] = str,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.secret = secret.encode() if secret else None
        self.notice_id = notice_id
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

    def signature(self, body: bytes) -> str | None:
        if self.secret is None:
            return None
        return "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    async def send(self, message: Outgoing) -> Reply:
        body = self.payload(message)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"notice-{message.notice_id}",
        }
        signature = self.signature(body)
        if signature is not None:
            headers["X-Arrears-Signature"] = signature
        try:
            response = await self.client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Reply(Answer.UNAVAILABLE, error="timeout")
        except httpx.HTTPError as exc:
            return Reply(Answer.UNAVAILABLE, error=f"no answer ({type(exc).__name__})")
        answer = answer_of(response.status_code)
        if answer is Answer.ACCEPTED:
            return Reply(answer, provider_ref=_provider_ref(response))
        return Reply(answer, error=f"HTTP {response.status_code}")


class PrintAdapter:
    """Development only: prints each notice as one JSON line (the destination masked, the body
    as it would be sent) and takes it as sent."""

    def __init__(self, stream: TextIO, *, notice_id: Callable[[int], str] = str) -> None:
        self.stream = stream
        self.notice_id = notice_id

    async def send(self, message: Outgoing) -> Reply:
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
        return Reply(Answer.ACCEPTED)
