"""Signed checkpoints of the audit chain heads, kept outside the database.

The HMAC chains catch an entry edited, inserted or deleted in the middle of a chain, but not the
newest entries deleted together with a head rewound to an earlier (seq, hash): what is left is a
consistent, shorter chain. A checkpoint records every head, signed with Ed25519, in a new file of
a directory the database's administrators cannot rewrite; the trail must then be at least as long
as every checkpoint, with the checkpoint's hash at the checkpoint's sequence number.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from store import tables
from store.audit_keys import (
    SIGNING_KEY_NAME,
    CheckpointError,
    generate,
    key_id,
    load_private_key,
    verify_key,
)

FORMAT = "arrears-audit-checkpoint/1"
SUFFIX = ".checkpoint.json"
# Sequence numbers looked up per statement (SQLite allows 32,766 bound values).
_BATCH = 5000


@dataclass(frozen=True)
class Head:
    """A chain's length and newest hash."""

    chain: int
    seq: int
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint whose signature verified, named by its file."""

    name: str
    heads: tuple[Head, ...]


@dataclass(frozen=True)
class Found:
    """The checkpoints of a directory: those that verified, oldest first, and those that did not."""

    directory: Path | None
    valid: list[Checkpoint]
    invalid: list[str]


def canonical(payload: Mapping[str, Any]) -> bytes:
    """Returns the bytes a checkpoint's signature covers: sorted keys, no whitespace."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checkpoint_dir(value: str | None, *, create: bool = False) -> Path:
    """Returns the configured checkpoint directory (made if asked), refusing an unset one."""
    if not value:
        raise CheckpointError(
            "ARREARS_AUDIT_CHECKPOINT_DIR is not set: nowhere to keep checkpoints"
        )
    path = Path(value)
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(f"cannot create {path}: {exc.strerror or exc}") from None
    if not path.is_dir():
        raise CheckpointError(f"ARREARS_AUDIT_CHECKPOINT_DIR {path} is not a directory")
    return path


def signing_key(
    directory: str | None, key_file: str | None, env: str
) -> tuple[Path, Ed25519PrivateKey]:
    """Returns the checkpoint directory (made if missing) and the key that signs checkpoints."""
    # Only development makes a key, beside the checkpoints, when none is configured.
    if directory and not key_file and env != "development":
        raise CheckpointError(
            f"ARREARS_AUDIT_SIGNING_KEY_FILE must be set when ARREARS_ENV={env} "
            "(a key is generated beside the checkpoints only in development)"
        )
    path = checkpoint_dir(directory, create=True)
    if key_file:
        return path, load_private_key(Path(key_file))
    generated = path / SIGNING_KEY_NAME
    return path, load_private_key(generated) if generated.exists() else generate(path)


async def read_heads(conn: AsyncConnection) -> list[Head]:
    """Returns every chain's head, in chain order."""
    h = tables.audit_heads.c
    rows = (await conn.execute(select(h.chain, h.seq, h.hash).order_by(h.chain))).all()
    return [Head(row.chain, row.seq, row.hash) for row in rows]


def write(directory: Path, key: Ed25519PrivateKey, heads: Sequence[Head], at: datetime) -> Path:
    """Writes a signed checkpoint of the heads to a new file; never replaces an existing one."""
    at = at.astimezone(UTC)
    payload = {
        "format": FORMAT,
        "at": at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "key_id": key_id(key.public_key()),
        "chains": [{"chain": h.chain, "seq": h.seq, "hash": h.hash} for h in heads],
    }
    signature = base64.b64encode(key.sign(canonical(payload))).decode()
    # Sortable by time; the random part keeps two checkpoints of one instant apart.
    path = directory / f"{at:%Y-%m-%dT%H-%M-%S.%fZ}-{secrets.token_hex(4)}{SUFFIX}"
    try:
        with path.open("x", encoding="utf-8") as out:
            json.dump({"payload": payload, "signature": signature}, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
    except FileExistsError:
        raise CheckpointError(f"checkpoint {path} already exists (not overwritten)") from None
    except OSError as exc:
        raise CheckpointError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _parse(path: Path, public: Ed25519PublicKey) -> Checkpoint | str:
    """Returns the checkpoint in a file, or what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        payload = document["payload"]
        signature = base64.b64decode(document["signature"], validate=True)
        signed_by = payload["key_id"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"checkpoint {path.name} is unreadable ({type(exc).__name__})"
    if signed_by != key_id(public):
        return f"checkpoint {path.name} was signed with key {signed_by}, not {key_id(public)}"
    try:
        public.verify(signature, canonical(payload))
    except InvalidSignature:
        return f"checkpoint {path.name}: signature does not verify (forged or modified)"
    try:
        heads = tuple(
            Head(int(c["chain"]), int(c["seq"]), str(c["hash"])) for c in payload["chains"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        return f"checkpoint {path.name} is unreadable ({type(exc).__name__})"
    return Checkpoint(path.name, heads)


def load(
    directory: str | None,
    verify_key_file: str | None,
    signing_key_file: str | None,
    development: bool = True,
) -> Found:
    """Reads every checkpoint of the directory, checking each signature (none when unset).

    Outside development the key must be configured: a key kept beside the checkpoints could
    be replaced together with them."""
    if not directory:
        return Found(None, [], [])
    path = checkpoint_dir(directory)
    files = sorted(p for p in path.iterdir() if p.name.endswith(SUFFIX))
    if not files:
        return Found(path, [], [])
    public = verify_key(path, verify_key_file, signing_key_file, beside=development)
    if public is None:
        raise CheckpointError(
            f"no key to check the checkpoints in {path}: set ARREARS_AUDIT_VERIFY_KEY_FILE"
        )
    parsed = [_parse(file, public) for file in files]
    return Found(
        path,
        [c for c in parsed if isinstance(c, Checkpoint)],
        [c for c in parsed if isinstance(c, str)],
    )


def _entries(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first}–{last} are"


def _shortfall(
    name: str, want: Head, head: Head | None, length: int, found: str | None
) -> str | None:
    """Says how one chain falls short of one checkpoint's head, if it does."""
    if want.seq <= 0:
        return None  # the chain was empty then: nothing to lose
    if length < want.seq:
        missing = _entries(length + 1, want.seq)
        return f"chain {want.chain} is shorter than checkpoint {name}: {missing} missing"
    differs = f"chain {want.chain} differs from checkpoint {name}"
    if found is None:
        return f"{differs}: entry seq {want.seq} is missing"
    if found != want.hash:
        return f"{differs}: entry seq {want.seq} has hash {found} not {want.hash}"
    if head is not None and head.seq == want.seq and head.hash != want.hash:
        return f"{differs}: its head (seq {want.seq}) has hash {head.hash} not {want.hash}"
    return None


async def compare(conn: AsyncConnection, checkpoints: Sequence[Checkpoint]) -> list[str]:
    """Returns how the trail falls short of the checkpoints, by chain, newest checkpoint first."""
    e = tables.audit_entries.c
    wanted: dict[int, set[int]] = {}
    for checkpoint in checkpoints:
        for want in checkpoint.heads:
            if want.seq > 0:
                wanted.setdefault(want.chain, set()).add(want.seq)
    if not wanted:
        return []
    heads = {head.chain: head for head in await read_heads(conn)}
    chains = sorted(wanted)
    # One statement for every chain's last entry, then one per chain for the hashes at the
    # checkpoints' sequence numbers: both are lookups in the (chain, seq) unique index.
    last = (
        await conn.execute(
            select(*(select(func.max(e.seq)).where(e.chain == c).scalar_subquery() for c in chains))
        )
    ).one()
    found: dict[tuple[int, int], str] = {}
    for chain in chains:
        seqs = sorted(wanted[chain])
        for start in range(0, len(seqs), _BATCH):
            rows = await conn.execute(
                select(e.seq, e.hash).where(
                    e.chain == chain, e.seq.in_(seqs[start : start + _BATCH])
                )
            )
            found.update({(chain, row.seq): row.hash for row in rows})
    lengths = {}
    for chain, stored in zip(chains, last, strict=True):
        head = heads.get(chain)
        lengths[chain] = min(stored or 0, head.seq) if head is not None else stored or 0
    problems: list[tuple[int, int, str]] = []
    for index, checkpoint in enumerate(checkpoints):
        for want in checkpoint.heads:
            problem = _shortfall(
                checkpoint.name,
                want,
                heads.get(want.chain),
                lengths.get(want.chain, 0),
                found.get((want.chain, want.seq)),
            )
            if problem:
                problems.append((want.chain, -index, problem))
    return [problem for *_, problem in sorted(problems)]
