"""`arrears audit checkpoint` and the checkpoint half of `arrears audit verify`, as an operator
runs them, on a database of each test's own: deleting a chain's newest entries and rewinding its
head leaves the HMAC chains consistent, and only the signed checkpoints kept outside the
database name the chain and the entries that are gone; a forged checkpoint is named too."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store import audit, audit_checkpoints, tables
from store.audit_checkpoints import SUFFIX, CheckpointError, Head, canonical
from store.audit_keys import key_id
from tests.cli import Ran, invoke_aside, spawn
from tests.integration.test_audit_verify import (
    KEY,
    all_rows,
    chain_of,
    one_line,
    record,
    tamper,
    write,
)

NO_CHECKPOINTS = "truncation of a chain cannot be detected without checkpoints"
e = tables.audit_entries.c
h = tables.audit_heads.c


# Each test holds the event loop but may block it: the CLI runs in a thread beside it.
arrears = invoke_aside


def ok(result: Ran) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def checkpoint(url: str, directory: Path, **env: str) -> Path:
    """Writes one checkpoint with the CLI; returns its file."""
    out = ok(
        arrears("audit", "checkpoint", url=url, ARREARS_AUDIT_CHECKPOINT_DIR=str(directory), **env)
    )
    assert out.startswith("audit checkpoint written: ")
    path = Path(out.split(": ", 1)[1].rsplit(" (", 1)[0])
    assert path.parent == directory and path.name.endswith(SUFFIX)
    return path


def checkpoint_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(SUFFIX))


async def write_entries(engine: AsyncEngine, numbers: range) -> None:
    """Writes entries n, one transaction each, over chains 0, 1 and 2 (n % 3)."""
    for n in numbers:
        await write(engine, [record(n)], chain=n % 3)


async def cut_back(engine: AsyncEngine, chain: int, keep: int) -> None:
    """The attack: deletes a chain's entries after seq `keep` and rewinds its head to match."""
    kept = chain_of(await all_rows(engine), chain)[keep - 1]
    await tamper(
        engine,
        delete(tables.audit_entries).where(e.chain == chain, e.seq > keep),
        update(tables.audit_heads).where(h.chain == chain).values(seq=keep, hash=kept.hash),
    )


async def checkpoint_now(engine: AsyncEngine, directory: Path) -> Path:
    """Writes one checkpoint in process, as `arrears audit checkpoint` does in development."""
    directory, key = audit_checkpoints.signing_key(str(directory), None, "development")
    async with engine.connect() as conn:
        heads = await audit_checkpoints.read_heads(conn)
    return audit_checkpoints.write(directory, key, heads, datetime.now(UTC))


@pytest.fixture
async def two_checkpoints(migrated: AsyncEngine, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Entries 0..11 (chains 0-2 at seq 4), a checkpoint, entries 12..23 (seq 8), another."""
    directory = tmp_path / "checkpoints"
    await write_entries(migrated, range(12))
    first = await checkpoint_now(migrated, directory)
    await write_entries(migrated, range(12, 24))
    second = await checkpoint_now(migrated, directory)
    return directory, first, second


# ---- the attack -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keep", "missing"),
    [
        pytest.param(5, {"second": "entries 6–8 are"}, id="after-the-first-checkpoint"),
        pytest.param(7, {"second": "entry 8 is"}, id="only-the-newest-entry"),
        pytest.param(
            2, {"first": "entries 3–4 are", "second": "entries 3–8 are"}, id="before-both"
        ),
    ],
)
async def test_a_chain_cut_short_is_named_only_thanks_to_the_checkpoints(
    migrated: AsyncEngine,
    empty_database_url: str,
    two_checkpoints: tuple[Path, Path, Path],
    keep: int,
    missing: dict[str, str],
) -> None:
    directory, first, second = two_checkpoints
    ok(
        arrears(
            "audit", "verify", url=empty_database_url, ARREARS_AUDIT_CHECKPOINT_DIR=str(directory)
        )
    )

    await cut_back(migrated, chain=1, keep=keep)

    # Without checkpoints the rest of chain 1 is a consistent chain: the HMACs alone cannot
    # tell that anything is gone. This is the hole the checkpoints close.
    async with migrated.connect() as conn:
        assert (await audit.verify(conn, KEY))[1] == []
    blind = arrears("audit", "verify", url=empty_database_url)
    assert ok(blind) == f"audit trail verified: {24 - (8 - keep)} entries in 8 chains\n"
    assert NO_CHECKPOINTS in blind.stderr

    result = arrears(
        "audit", "verify", url=empty_database_url, ARREARS_AUDIT_CHECKPOINT_DIR=str(directory)
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    names = {"first": first.name, "second": second.name}
    expected = [
        f"chain 1 is shorter than checkpoint {names[which]}: {what} missing"
        for which, what in sorted(missing.items(), reverse=True)
    ]
    # The newest checkpoint, which knows the most entries, is the error; an older one also
    # longer than the chain is listed before it.
    assert result.stderr.strip().splitlines() == [
        *(f"also broken: {line}" for line in expected[1:]),
        f"arrears: {expected[0]}",
    ]


async def test_newest_entries_deleted_behind_a_head_left_in_place_are_named(
    migrated: AsyncEngine, empty_database_url: str, two_checkpoints: tuple[Path, Path, Path]
) -> None:
    directory, _, second = two_checkpoints
    kept = chain_of(await all_rows(migrated), 2)[5]
    await tamper(migrated, delete(tables.audit_entries).where(e.chain == 2, e.seq > 6))
    # The head still says 8: the chain check sees the loss too, and the checkpoint names it.
    result = arrears(
        "audit", "verify", url=empty_database_url, ARREARS_AUDIT_CHECKPOINT_DIR=str(directory)
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"arrears: audit trail broken at after entry {kept.id} (chain 2, seq 7): "
        "entries after this point are missing (deleted)"
    )
    assert (
        f"also broken: chain 2 is shorter than checkpoint {second.name}: entries 7–8 are missing"
        in lines
    )


@pytest.mark.parametrize("how", ["history-rewritten-with-the-key", "head-only"])
async def test_a_head_rewritten_to_another_hash_is_named(
    migrated: AsyncEngine,
    empty_database_url: str,
    two_checkpoints: tuple[Path, Path, Path],
    how: str,
) -> None:
    directory, _, second = two_checkpoints
    before = chain_of(await all_rows(migrated), 0)
    if how == "head-only":
        await tamper(migrated, update(tables.audit_heads).where(h.chain == 0).values(hash="f" * 64))
        forged = "f" * 64
    else:
        # An insider holding the HMAC key replaces entries 6-8 of chain 0 with other, correctly
        # chained ones: the chain verifies, the head has the same length and another hash.
        await cut_back(migrated, chain=0, keep=5)
        await write(migrated, [record(n) for n in (90, 91, 92)], chain=0)
        async with migrated.connect() as conn:
            assert (await audit.verify(conn, KEY))[1] == []
        forged = chain_of(await all_rows(migrated), 0)[-1].hash
    assert forged != before[-1].hash
    result = arrears(
        "audit", "verify", url=empty_database_url, ARREARS_AUDIT_CHECKPOINT_DIR=str(directory)
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    differs = f"chain 0 differs from checkpoint {second.name}"
    if how == "head-only":
        assert (
            f"also broken: {differs}: its head (seq 8) has hash {forged} not {before[-1].hash}"
            in lines
        )
    else:
        assert lines == [f"arrears: {differs}: entry seq 8 has hash {forged} not {before[-1].hash}"]


# ---- the checkpoints themselves -------------------------------------------------------------


def resign(path: Path, payload: dict[str, Any], key: Ed25519PrivateKey) -> None:
    signature = base64.b64encode(key.sign(canonical(payload))).decode()
    path.write_text(json.dumps({"payload": payload, "signature": signature}), encoding="utf-8")


@pytest.mark.parametrize("forgery", ["modified", "other-key", "garbage"])
async def test_a_forged_checkpoint_is_named(
    migrated: AsyncEngine,
    empty_database_url: str,
    two_checkpoints: tuple[Path, Path, Path],
    forgery: str,
) -> None:
    directory, _, second = two_checkpoints
    document = json.loads(second.read_text(encoding="utf-8"))
    payload = document["payload"]
    payload["chains"][1].update(seq=5, hash=chain_of(await all_rows(migrated), 1)[4].hash)
    if forgery == "modified":
        # Lowered to cover up a cut: the signature no longer matches.
        second.write_text(json.dumps(document), encoding="utf-8")
        problem = f"checkpoint {second.name}: signature does not verify (forged or modified)"
    elif forgery == "other-key":
        other = Ed25519PrivateKey.generate()
        genuine = payload["key_id"]
        payload["key_id"] = key_id(other.public_key())
        resign(second, payload, other)
        problem = f"checkpoint {second.name} was signed with key {payload['key_id']}, not {genuine}"
    else:
        second.write_text("{not json", encoding="utf-8")
        problem = f"checkpoint {second.name} is unreadable (JSONDecodeError)"
    result = arrears(
        "audit", "verify", url=empty_database_url, ARREARS_AUDIT_CHECKPOINT_DIR=str(directory)
    )
    assert one_line(result) == f"arrears: {problem}"


async def test_checkpoints_sign_every_head_in_new_files_never_overwritten(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "checkpoints"
    await write_entries(migrated, range(6))
    first = checkpoint(empty_database_url, directory)
    content = first.read_bytes()
    second = checkpoint(empty_database_url, directory)
    assert checkpoint_files(directory) == [first, second]  # two files, in the order written
    assert first.read_bytes() == content

    # Development made a key pair beside the checkpoints, the private half for the owner only.
    signing = directory / "signing-key.pem"
    assert stat.S_IMODE(signing.stat().st_mode) == 0o600
    public = serialization.load_pem_public_key((directory / "verify-key.pem").read_bytes())
    assert isinstance(public, Ed25519PublicKey)

    document = json.loads(second.read_text(encoding="utf-8"))
    payload = document["payload"]
    public.verify(base64.b64decode(document["signature"]), canonical(payload))
    assert payload["key_id"] == key_id(public)
    async with migrated.connect() as conn:
        heads = await audit_checkpoints.read_heads(conn)
    assert payload["chains"] == [{"chain": x.chain, "seq": x.seq, "hash": x.hash} for x in heads]
    assert [x.seq for x in heads] == [2, 2, 2, 0, 0, 0, 0, 0]
    assert datetime.fromisoformat(payload["at"]) <= datetime.now(UTC)

    out = ok(
        arrears(
            "audit", "verify", url=empty_database_url, ARREARS_AUDIT_CHECKPOINT_DIR=str(directory)
        )
    )
    assert out == "audit trail verified: 6 entries in 8 chains, against 2 checkpoints\n"


def test_an_existing_checkpoint_file_is_refused_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_checkpoints.secrets, "token_hex", lambda _n: "00000000")
    key = Ed25519PrivateKey.generate()
    at = datetime(2026, 11, 28, 22, 40, tzinfo=UTC)
    path = audit_checkpoints.write(tmp_path, key, [Head(0, 1, "a" * 64)], at)
    assert path.name == "2026-11-28T22-40-00.000000Z-00000000.checkpoint.json"
    content = path.read_bytes()
    with pytest.raises(CheckpointError, match="already exists"):
        audit_checkpoints.write(tmp_path, key, [Head(0, 2, "b" * 64)], at)
    assert path.read_bytes() == content


async def test_production_signs_with_the_key_file_and_verifies_with_the_public_key_only(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    directory, keys = tmp_path / "checkpoints", tmp_path / "keys"
    keys.mkdir()
    key = Ed25519PrivateKey.generate()
    (keys / "signing.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (keys / "verify.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    production = {"ARREARS_ENV": "production"}
    await write_entries(migrated, range(9))
    made = checkpoint(
        empty_database_url,
        directory,
        ARREARS_AUDIT_SIGNING_KEY_FILE=str(keys / "signing.pem"),
        **production,
    )
    assert sorted(directory.iterdir()) == [made]  # no key lands beside the checkpoints

    # The verifying host has the public key only.
    (keys / "signing.pem").unlink()
    env = {
        "ARREARS_AUDIT_CHECKPOINT_DIR": str(directory),
        "ARREARS_AUDIT_VERIFY_KEY_FILE": str(keys / "verify.pem"),
        **production,
    }
    # Once as a process of its own, as the operator's verifying host runs it.
    out = ok(spawn("audit", "verify", url=empty_database_url, **env))
    assert out == "audit trail verified: 9 entries in 8 chains, against 1 checkpoint\n"

    await cut_back(migrated, chain=2, keep=1)
    result = arrears("audit", "verify", url=empty_database_url, **env)
    assert one_line(result) == (
        f"arrears: chain 2 is shorter than checkpoint {made.name}: entries 2–3 are missing"
    )

    # A verify key that did not sign the checkpoints cannot vouch for them.
    other = Ed25519PrivateKey.generate().public_key()
    (keys / "verify.pem").write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert one_line(arrears("audit", "verify", url=empty_database_url, **env)) == (
        f"arrears: checkpoint {made.name} was signed with key {key_id(key.public_key())}, "
        f"not {key_id(other)}"
    )


# ---- refusals -------------------------------------------------------------------------------


async def test_checkpoint_without_a_directory_is_refused(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    assert one_line(arrears("audit", "checkpoint", url=empty_database_url)) == (
        "arrears: ARREARS_AUDIT_CHECKPOINT_DIR is not set: nowhere to keep checkpoints"
    )


async def test_production_without_a_signing_key_is_refused(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "checkpoints"
    result = arrears(
        "audit",
        "checkpoint",
        url=empty_database_url,
        ARREARS_ENV="production",
        ARREARS_AUDIT_CHECKPOINT_DIR=str(directory),
    )
    assert one_line(result) == (
        "arrears: ARREARS_AUDIT_SIGNING_KEY_FILE must be set when ARREARS_ENV=production "
        "(a key is generated beside the checkpoints only in development)"
    )
    assert not directory.exists()  # no key generated, nothing written


async def test_verify_refuses_checkpoints_it_has_no_key_for(
    migrated: AsyncEngine, empty_database_url: str, two_checkpoints: tuple[Path, Path, Path]
) -> None:
    directory, _, _ = two_checkpoints
    (directory / "signing-key.pem").unlink()
    (directory / "verify-key.pem").unlink()
    result = arrears(
        "audit", "verify", url=empty_database_url, ARREARS_AUDIT_CHECKPOINT_DIR=str(directory)
    )
    assert one_line(result) == (
        f"arrears: no key to check the checkpoints in {directory}: "
        "set ARREARS_AUDIT_VERIFY_KEY_FILE"
    )


async def test_verify_says_when_there_is_no_checkpoint(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    await write_entries(migrated, range(3))
    empty = tmp_path / "empty"
    empty.mkdir()
    result = arrears(
        "audit", "verify", url=empty_database_url, ARREARS_AUDIT_CHECKPOINT_DIR=str(empty)
    )
    assert ok(result) == "audit trail verified: 3 entries in 8 chains\n"
    assert result.stderr == (
        f"arrears: WARNING: no audit checkpoints (none in {empty}): {NO_CHECKPOINTS}\n"
    )
    missing = arrears(
        "audit", "verify", url=empty_database_url, ARREARS_AUDIT_CHECKPOINT_DIR=str(tmp_path / "no")
    )
    assert one_line(missing) == (
        f"arrears: ARREARS_AUDIT_CHECKPOINT_DIR {tmp_path / 'no'} is not a directory"
    )


async def test_a_broken_trail_is_never_checkpointed(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    """A checkpoint of a chain already cut would make the cut look original."""
    directory = tmp_path / "checkpoints"
    await write_entries(migrated, range(12))
    await cut_back(migrated, chain=1, keep=2)
    await tamper(migrated, update(tables.audit_heads).where(h.chain == 1).values(seq=4))
    result = arrears(
        "audit", "checkpoint", url=empty_database_url, ARREARS_AUDIT_CHECKPOINT_DIR=str(directory)
    )
    assert result.returncode == 1
    assert "audit trail broken at" in one_line(result)
    assert "no checkpoint written" in one_line(result)
    assert not directory.exists() or checkpoint_files(directory) == []


async def test_outside_development_verify_needs_a_configured_key(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    """A key kept beside the checkpoints could be swapped along with them."""
    directory = tmp_path / "checkpoints"
    await write_entries(migrated, range(6))
    await checkpoint_now(migrated, directory)  # development: the pair is made beside them
    public = directory / "verify-key.pem"
    assert public.exists()
    env = {"ARREARS_AUDIT_CHECKPOINT_DIR": str(directory), "ARREARS_ENV": "production"}
    refused = arrears("audit", "verify", url=empty_database_url, **env)
    assert refused.returncode == 1
    assert "set ARREARS_AUDIT_VERIFY_KEY_FILE" in one_line(refused)
    out = ok(
        arrears(
            "audit",
            "verify",
            url=empty_database_url,
            ARREARS_AUDIT_VERIFY_KEY_FILE=str(public),
            **env,
        )
    )
    assert "against 1 checkpoint" in out
