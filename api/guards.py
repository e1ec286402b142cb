"""Request guards that run before any GraphQL work: body size and shape, the client's address,
rate limits for unauthenticated callers, a per-caller concurrency cap, and failed-login records.

Each refusal is a ``RequestRefused`` with an HTTP status and a message safe to show; nothing in
a message or a log repeats what the caller sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import math
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from redis import asyncio as redis_asyncio
from starlette.requests import ClientDisconnect, Request

from store import limits as limits_store
from store.db import Engine
from store.keys import is_text

log = structlog.get_logger("arrears.guards")

# A NUL character is never meaningful in this API's text, and PostgreSQL refuses it in a string
# column; a GraphQL string writes it as \u0000 or \u{0}.
_NUL_ESCAPE = re.compile(r"\\u(?:0000|\{0+\})", re.IGNORECASE)

# Nesting of the JSON variables: deep enough for any input type of the schema, far below what
# would make a recursive coercion overflow the stack.
MAX_JSON_DEPTH = 32


@dataclass
class RequestRefused(Exception):
    """A request turned away before execution (HTTP status, machine code, safe message)."""

    status: int
    code: str
    message: str
    retry_after: int | None = None

    def __str__(self) -> str:
        return self.message


# ---- The body -------------------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """Reads the body, refusing it (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    too_large = RequestRefused(
        413, "BODY_TOO_LARGE", f"the request body exceeds the limit of {limit:,} bytes"
    )
    if declared is not None:
        try:
            if int(declared) > limit:
                raise too_large
        except ValueError:
            raise RequestRefused(400, "BAD_REQUEST", "invalid Content-Length header") from None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        raise RequestRefused(400, "BAD_REQUEST", "the client went away") from None
    body = b"".join(chunks)
    request._body = body  # later readers (the GraphQL view) get the same bytes
    return body


def _check_variables(value: Any) -> None:
    """Refuses variables nested too deep or holding a NUL character or a lone surrogate (keys
    included), in one walk without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise RequestRefused(400, "BAD_REQUEST", "text may not contain NUL characters")
            if not is_text(item):
                raise RequestRefused(400, "BAD_REQUEST", "text must be valid Unicode")
            continue
        if isinstance(item, dict):
            children: Iterable[Any] = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > MAX_JSON_DEPTH:
            raise RequestRefused(
                400, "BAD_REQUEST", f"variables are nested more than {MAX_JSON_DEPTH} levels deep"
            )
        stack.extend((child, level + 1) for child in children)


def _json(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise RequestRefused(
            400, "BAD_REQUEST", f"{what} is nested more than {MAX_JSON_DEPTH} levels deep"
        ) from None
    except ValueError:
        raise RequestRefused(400, "BAD_REQUEST", f"{what} is not valid JSON") from None


def check_post(content_type: str, body: bytes) -> dict[str, Any]:
    """Refuses (400/415) a POST body that is not one JSON GraphQL request; returns the request
    (its ``query`` a non-empty string)."""
    media = content_type.partition(";")[0].strip().lower()
    if media != "application/json":
        raise RequestRefused(415, "UNSUPPORTED_MEDIA_TYPE", "send the request as application/json")
    payload = _json(body, "the body")
    if not isinstance(payload, dict):
        raise RequestRefused(
            400, "BAD_REQUEST", "the body must be one JSON object {query, variables, operationName}"
        )
    check_request(payload.get("query"), payload.get("variables"), payload.get("operationName"))
    extensions = payload.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise RequestRefused(400, "BAD_REQUEST", "'extensions' must be a JSON object")
    return payload


def check_request(query: Any, variables: Any, operation_name: Any) -> None:
    """Refuses (400) a GraphQL request of the wrong shape."""
    if not isinstance(query, str) or not query.strip():
        raise RequestRefused(400, "BAD_REQUEST", "'query' must be a non-empty string")
    if variables is not None and not isinstance(variables, dict):
        raise RequestRefused(400, "BAD_REQUEST", "'variables' must be a JSON object")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestRefused(400, "BAD_REQUEST", "'operationName' must be a string")
    if "\x00" in query or _NUL_ESCAPE.search(query):
        raise RequestRefused(400, "BAD_REQUEST", "text may not contain NUL characters")
    if not is_text(query) or (operation_name is not None and not is_text(operation_name)):
        raise RequestRefused(400, "BAD_REQUEST", "text must be valid Unicode")
    if variables:
        _check_variables(variables)


# ---- Who is calling --------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> list[Network]:
    """Returns the trusted proxies as networks (a bare address is a /32 or /128)."""
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def _trusted(address: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request, trusted: list[Network]) -> str | None:
    """Returns the caller's address: the direct peer, or, when the peer is a trusted proxy,
    the nearest address in X-Forwarded-For that is not itself a trusted proxy."""
    peer = request.client.host if request.client else None
    if peer is None or not trusted or not _trusted(peer, trusted):
        return peer
    # Every X-Forwarded-For line counts, in order, as one list.
    header = ",".join(request.headers.getlist("x-forwarded-for"))
    forwarded = [hop.strip() for hop in header.split(",") if hop.strip()]
    for hop in reversed(forwarded):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain: believe only what we saw ourselves
        if not _trusted(hop, trusted):
            return hop
    return forwarded[0] if forwarded else peer


# ---- Limits --------------------------------------------------------------------------------


# Addresses remembered as over their limit (database storage), before the expired are dropped.
MAX_BLOCKED = 10_000


class AddressLimiter:
    """Requests without valid credentials allowed per client address and minute: a moving window
    in the process or in Redis (the ``limits`` package), or a fixed window in the database, so
    that every worker shares the count (see Settings.shared_limits)."""

    def __init__(
        self,
        per_minute: int,
        storage: str = "memory",
        redis_url: str | None = None,
        engine: Engine | None = None,
        key_prefix: str = "arrears",
    ) -> None:
        self.per_minute = per_minute
        self._engine = engine if storage == "database" else None
        self._blocked: dict[str, float] = {}  # address -> end of the window it is over in
        if storage == "database" and engine is None:
            raise ValueError("database limits need the engine")
        if storage == "redis":
            if not redis_url:
                raise ValueError("Redis limits need ARREARS_REDIS_URL")
            uri = redis_url if redis_url.startswith("async+") else "async+" + redis_url
            backend = storage_from_string(uri, implementation="redispy", key_prefix=key_prefix)
        else:
            backend = storage_from_string("async+memory://")
        self._backend: Any = backend
        self._limiter = MovingWindowRateLimiter(backend)
        self._item = RateLimitItemPerMinute(per_minute)

    async def hit(self, address: str | None) -> int | None:
        """Counts a failed request; returns seconds to wait when the address is over its limit."""
        key = address or "unknown"
        if self._engine is not None:
            now = time.time()
            # An address known to be over its limit is refused without asking the database
            # again until its window ends: a flood costs one write per worker and minute.
            until = self._blocked.get(key)
            if until is not None and now < until:
                return max(1, math.ceil(until - now))
            window = int(now // 60)
            if await limits_store.hit(self._engine, f"unauthenticated:{key}", window) <= (
                self.per_minute
            ):
                return None
            if len(self._blocked) >= MAX_BLOCKED:
                # Full of live entries (a flood from many addresses): start over rather than
                # sift on every refusal; the database still counts for the forgotten.
                live = {k: t for k, t in self._blocked.items() if t > now}
                self._blocked = live if len(live) < MAX_BLOCKED // 2 else {}
            self._blocked[key] = (window + 1) * 60
            return max(1, math.ceil((window + 1) * 60 - now))
        if await self._limiter.hit(self._item, "unauthenticated", key):
            return None
        stats = await self._limiter.get_window_stats(self._item, "unauthenticated", key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def close(self) -> None:
        """Closes the connection to Redis, if any."""
        bridge = getattr(self._backend, "bridge", None)
        if bridge is not None:
            await bridge.get_connection().aclose()


class Leases(Protocol):
    """Where the slots of the per-caller cap are counted when several workers share them."""

    async def take(self, caller: str, limit: int) -> str | None:
        """Takes a slot; returns its token, or None when the caller holds ``limit`` already."""

    async def give_back(self, caller: str, token: str) -> None:
        """Frees a slot taken by ``take``."""


# A lease outlives any ordinary request (the longest reports take about a minute); one whose
# worker died, or that could not be given back, frees its slot at its expiry.
LEASE_SECONDS = 120


class DatabaseLeases:
    """Slots as expiring rows of ``caller_leases`` (see store.limits)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def take(self, caller: str, limit: int) -> str | None:
        now = datetime.now(UTC)
        return await limits_store.take_lease(
            self._engine, caller, limit, now, timedelta(seconds=LEASE_SECONDS)
        )

    async def give_back(self, caller: str, token: str) -> None:
        await limits_store.give_back(self._engine, token)


# Expired leases go, then one is added if fewer than the limit remain: atomic in Redis, timed
# by Redis's own clock (the workers' clocks may differ).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""


class RedisLeases:
    """Slots as members of a sorted set per caller scored by their expiry."""

    def __init__(self, url: str, key_prefix: str = "arrears") -> None:
        self._redis = redis_asyncio.Redis.from_url(url)
        self._prefix = key_prefix
        self._take = self._redis.register_script(_TAKE)

    def _key(self, caller: str) -> str:
        return f"{self._prefix}:slots:{caller}"

    async def take(self, caller: str, limit: int) -> str | None:
        token = secrets.token_hex(16)
        taken = await self._take(keys=[self._key(caller)], args=[limit, LEASE_SECONDS, token])
        return token if taken else None

    async def give_back(self, caller: str, token: str) -> None:
        await self._redis.zrem(self._key(caller), token)

    async def close(self) -> None:
        await self._redis.aclose()


class CallerSlots:
    """At most ``limit`` requests of one caller executing at once — in this process, or across
    every worker when ``leases`` share the count; a few more wait their turn briefly, the rest
    are refused at once (so one caller cannot hold the pool)."""

    def __init__(
        self,
        limit: int,
        queue: int | None = None,
        wait_seconds: float = 10.0,
        leases: Leases | None = None,
    ) -> None:
        self.limit = limit
        self.queue = 8 * limit if queue is None else queue
        self.wait_seconds = wait_seconds
        self.leases = leases
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._holders: Counter[str] = Counter()

    async def acquire(self, caller: str) -> Slot | None:
        """Takes a slot for the caller, waiting a little; None when none came free."""
        if self._holders[caller] >= self.limit + self.queue:
            return None
        self._holders[caller] += 1
        try:
            if self.leases is None:
                slot = self._slots.setdefault(caller, asyncio.Semaphore(self.limit))
                await asyncio.wait_for(slot.acquire(), self.wait_seconds)
                return Slot(caller, None)
            token = await self._lease(caller, self.leases)
        except TimeoutError:
            self._forget(caller)
            return None
        except BaseException:  # cancelled while waiting: give the queue place back
            self._forget(caller)
            raise
        if token is None:
            self._forget(caller)
            return None
        return Slot(caller, token)

    async def _lease(self, caller: str, leases: Leases) -> str | None:
        """Asks the shared count for a slot until one comes free or the wait is over."""
        deadline = time.monotonic() + self.wait_seconds
        pause = 0.02
        while True:
            token = await leases.take(caller, self.limit)
            if token is not None or time.monotonic() + pause > deadline:
                return token
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)

    async def release(self, slot: Slot) -> None:
        """Frees the slot (shielded: a cancelled request still gives its lease back). A lease
        that cannot be given back (the database or Redis went away meanwhile) is left to lapse:
        the request it guarded is over, and its answer must not change for it."""
        try:
            if slot.token is None:
                self._slots[slot.caller].release()
            elif self.leases is not None:
                giving = asyncio.ensure_future(self.leases.give_back(slot.caller, slot.token))
                giving.add_done_callback(_log_failed_give_back)
                with contextlib.suppress(Exception):
                    await asyncio.shield(giving)
        finally:
            self._forget(slot.caller)

    def _forget(self, caller: str) -> None:
        self._holders[caller] -= 1
        if self._holders[caller] <= 0:
            del self._holders[caller]
            self._slots.pop(caller, None)


def _log_failed_give_back(giving: asyncio.Future[None]) -> None:
    # Also when the request was cancelled while the lease was being given back.
    if not giving.cancelled() and giving.exception() is not None:
        log.warning("limits.lease_not_given_back", error=type(giving.exception()).__name__)


@dataclass(frozen=True, slots=True)
class Slot:
    """A slot held by a caller: in the process (no token) or a shared lease."""

    caller: str
    token: str | None


# ---- Repeated refusals (failed logins, busy callers) ------------------------------------------

# (key, what to record, request id, user agent, client address) -> the entry is written
RefusalWriter = Callable[
    [str | None, dict[str, Any], str | None, str | None, str | None], Awaitable[None]
]

# Keys tracked at once; refusals under any further key share one window, so a flood from many
# addresses still writes a bounded number of entries.
MAX_TRACKED = 100
OVERFLOW = "(other)"


def address_key(address: str | None) -> str | None:
    """Groups an address as one client: an IPv4 address, or the /64 an IPv6 address is in."""
    if address is None:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return address


@dataclass
class _Window:
    started: float
    first_at: datetime
    last_at: datetime
    count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    refused: int = 0


class RepeatedRefusals:
    """Records refusals of one kind: the first under a key (an address, a login) in a window at
    once, the rest of the window as one entry with a count when it closes, so a flood writes two
    entries, not thousands."""

    def __init__(
        self, window_seconds: int, write: RefusalWriter, max_tracked: int = MAX_TRACKED
    ) -> None:
        self.window = window_seconds
        self.max_tracked = max_tracked
        self._write = write
        self._windows: dict[str | None, _Window] = {}

    async def failed(
        self,
        key: str | None,
        reason: str,
        at: datetime,
        rate_limited: bool,
        request_id: str | None = None,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> None:
        if key not in self._windows and len(self._windows) >= self.max_tracked:
            key = OVERFLOW
        now = time.monotonic()
        current = self._windows.get(key)
        if current is not None and now - current.started < self.window:
            current.count += 1
            current.reasons[reason] += 1
            current.refused += int(rate_limited)
            current.last_at = at
            return
        # A new window; the old one (if any) is written first. No await before the window
        # exists, so concurrent refusals under one key cannot each open their own.
        self._windows[key] = _Window(started=now, first_at=at, last_at=at)
        if current is not None:
            await self._flush(key, current)
        await self._write(key, {"reason": reason, "count": 1}, request_id, user_agent, address)

    async def flush(self, force: bool = False) -> None:
        """Writes the counts of windows that have closed (all of them when ``force``)."""
        now = time.monotonic()
        for key, window in list(self._windows.items()):
            if self._windows.get(key) is not window:
                continue  # replaced meanwhile: failed() has written it already
            if force or now - window.started >= self.window:
                del self._windows[key]
                await self._flush(key, window)

    async def _flush(self, key: str | None, window: _Window) -> None:
        if window.count == 0:
            return
        await self._write(
            key,
            {
                "reasons": dict(sorted(window.reasons.items())),
                "count": window.count,
                "rateLimited": window.refused,
                "from": window.first_at.isoformat(),
                "to": window.last_at.isoformat(),
                "repeated": True,
            },
            None,
            None,
            None,
        )

    async def run(self, interval: float = 1.0) -> None:
        """Flushes closed windows until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await self.flush()
