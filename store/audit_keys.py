"""The Ed25519 keys of the audit checkpoints: reading them, and a development pair made beside
the checkpoints when no key is configured."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNING_KEY_NAME = "signing-key.pem"
VERIFY_KEY_NAME = "verify-key.pem"


class CheckpointError(Exception):
    """Checkpoints cannot be written or read as configured (said in one line)."""


def key_id(public: Ed25519PublicKey) -> str:
    """Returns the fingerprint of a verify key: the SHA-256 of its raw 32 bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Reads an unencrypted PEM (PKCS8) Ed25519 private key."""
    try:
        key = serialization.load_pem_private_key(_read(path, "audit signing key"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CheckpointError(f"{path} is not an unencrypted PEM (PKCS8) private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Reads a PEM Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(_read(path, "audit verify key"))
    except (ValueError, UnsupportedAlgorithm):
        raise CheckpointError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"{path} is not an Ed25519 public key")
    return key


def generate(directory: Path) -> Ed25519PrivateKey:
    """Creates a development key pair beside the checkpoints (private key readable by owner)."""
    if (directory / VERIFY_KEY_NAME).exists():
        raise CheckpointError(
            f"{directory} holds {VERIFY_KEY_NAME} but no {SIGNING_KEY_NAME}: "
            "set ARREARS_AUDIT_SIGNING_KEY_FILE"
        )
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    with os.fdopen(os.open(directory / SIGNING_KEY_NAME, flags, 0o600), "wb") as out:
        out.write(private)
    with (directory / VERIFY_KEY_NAME).open("xb") as out:
        out.write(public)
    return key


def verify_key(
    directory: Path,
    verify_key_file: str | None,
    signing_key_file: str | None,
    beside: bool = True,
) -> Ed25519PublicKey | None:
    """Returns the key that checks checkpoints: the configured one, else (when ``beside``) the
    one kept beside them."""
    if verify_key_file:
        return load_public_key(Path(verify_key_file))
    if signing_key_file:
        return load_private_key(Path(signing_key_file)).public_key()
    if not beside:
        return None
    if (directory / VERIFY_KEY_NAME).exists():
        return load_public_key(directory / VERIFY_KEY_NAME)
    if (directory / SIGNING_KEY_NAME).exists():
        return load_private_key(directory / SIGNING_KEY_NAME).public_key()
    return None
