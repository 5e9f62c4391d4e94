"""Shared vocabulary of the key layer: key types, purposes, the commitment rule.

    >>> commitment(KeyType.SSH, blob).hex()  # doctest: +SKIP

The commitment binds the key type to the canonical material:
``keccak256(uint8(key_type) || material)`` -- exactly what ``KeyRegistry.vy``
computes from the calldata it receives.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from enum import IntEnum, IntFlag
from typing import Any, Protocol, runtime_checkable

from registry.keys._digest import MAX_MATERIAL, sha256_b64
from registry.names import keccak256

__all__ = [
    "MAX_INPUT",
    "MAX_MATERIAL",
    "Key",
    "KeyType",
    "Purpose",
    "commitment",
    "has_private_key_text",
    "input_bytes",
    "sequoia",
    "sha256_b64",
]

#: Largest input file the loaders read (bytes); anything larger is refused before parsing.
MAX_INPUT = 1 << 20


class KeyType(IntEnum):
    """Key type codes, shared with the contract."""

    SSH = 1
    OPENPGP = 2
    X509 = 3

    @property
    def label(self) -> str:
        return {1: "ssh", 2: "openpgp", 3: "x509"}[self.value]

    @classmethod
    def parse(cls, text: str | int | KeyType) -> KeyType:
        from registry.errors import UnsupportedKeyType

        if isinstance(text, KeyType):
            return text
        if isinstance(text, int):
            try:
                return cls(text)
            except ValueError as exc:
                raise UnsupportedKeyType(f"unknown key type code {text}") from exc
        table = {"ssh": cls.SSH, "openpgp": cls.OPENPGP, "pgp": cls.OPENPGP, "gpg": cls.OPENPGP,
                 "x509": cls.X509, "x.509": cls.X509}
        try:
            return table[text.strip().lower()]
        except KeyError as exc:
            raise UnsupportedKeyType(f"unknown key type {text!r} (ssh, openpgp, x509)") from exc


class Purpose(IntFlag):
    """What a key record is for (bit flags, shared with the contract)."""

    SSH_USER = 1
    SSH_HOST = 2
    SIGNING = 4
    ENCRYPTION = 8
    TLS_SERVER = 16
    TLS_CLIENT = 32
    CA = 64

    @classmethod
    def parse(cls, text: str) -> Purpose:
        """Parse ``"ssh-user,ca"`` style lists.

        Raises:
            ValueError: an unknown purpose name.
        """
        value = cls(0)
        for part in text.split(","):
            part = part.strip().lower().replace("_", "-")
            if not part:
                continue
            member = _PURPOSE_NAMES.get(part)
            if member is None:
                raise ValueError(
                    f"unknown purpose {part!r} (one of {', '.join(sorted(_PURPOSE_NAMES))})"
                )
            value |= member
        return value

    def names(self) -> list[str]:
        return [n for n, m in _PURPOSE_NAMES.items() if m in self and m.value]


_PURPOSE_NAMES = {
    "ssh-user": Purpose.SSH_USER,
    "ssh-host": Purpose.SSH_HOST,
    "signing": Purpose.SIGNING,
    "encryption": Purpose.ENCRYPTION,
    "tls-server": Purpose.TLS_SERVER,
    "tls-client": Purpose.TLS_CLIENT,
    "ca": Purpose.CA,
}


def commitment(key_type: KeyType | int, material: bytes) -> bytes:
    """Return ``keccak256(uint8(key_type) || material)``, the on-chain commitment."""
    return keccak256(bytes([int(key_type)]) + bytes(material))


@runtime_checkable
class Key(Protocol):
    """What every parsed key (SSH key or certificate, OpenPGP cert, X.509 cert) offers."""

    @property
    def key_type(self) -> KeyType: ...
    @property
    def material(self) -> bytes: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def bits(self) -> int: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def identities(self) -> tuple[str, ...]: ...
    @property
    def valid_from(self) -> datetime | None: ...
    @property
    def valid_until(self) -> datetime | None: ...
    def to_dict(self) -> dict[str, Any]: ...


def input_bytes(data: object, what: str) -> bytes:
    """Key input as bytes: ``bytes``, ``bytearray``, ``memoryview`` or ``str`` (UTF-8),
    at most :data:`MAX_INPUT` bytes, checked before anything is copied or parsed.

    Raises:
        KeyFormatError: another type, or input over 1 MiB.
    """
    if type(data) is bytes and len(data) <= MAX_INPUT:
        return data  # the common case: nothing to copy or check
    from registry.errors import KeyFormatError

    if isinstance(data, str):
        size = len(data)  # characters: the UTF-8 form is never shorter
    elif isinstance(data, bytes | bytearray | memoryview):
        size = memoryview(data).nbytes
    else:
        raise KeyFormatError(f"{what} input must be bytes or str, not {type(data).__name__}")
    if size > MAX_INPUT:
        raise KeyFormatError(f"{what} input of {size} bytes is more than the {MAX_INPUT}"
                             " (1 MiB) keyanchor reads; refused")
    out = data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)
    if len(out) > MAX_INPUT:
        raise KeyFormatError(f"{what} input of {len(out)} bytes is more than the {MAX_INPUT}"
                             " (1 MiB) keyanchor reads; refused")
    return out



def sequoia() -> Any:
    """The ``pysequoia`` module, with Rust library backtraces off unless the user set them.

    Sequoia's errors capture a backtrace when ``RUST_BACKTRACE=1`` is set in the
    environment (developer shells, some CI images): each refused certificate then
    cost 128 ms and 53 MB of symbol tables. ``RUST_LIB_BACKTRACE`` (read before
    ``RUST_BACKTRACE`` by Rust's standard library, once per process) keeps panics'
    backtraces and drops the ones in error values; a value the user set is kept.
    """
    os.environ.setdefault("RUST_LIB_BACKTRACE", "0")
    import pysequoia

    return pysequoia


_PEM_PRIVATE = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*-----")


def has_private_key_text(raw: bytes, *, openssh_base64: bool = True) -> bool:
    """True when ``raw`` holds a textual private key marker (PEM, SSH2, PuTTY, OpenSSH).

    Substring tests (C ``memmem``) go first and the one regex has a literal
    prefix, so this costs a few scans of the input whatever it holds (a regex
    alternation of the four markers took 20 ms on 1 MiB of BEGIN lines).
    """
    return ((b"PRIVATE KEY" in raw and _PEM_PRIVATE.search(raw) is not None)
            or b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----" in raw
            or b"PuTTY-User-Key-File-" in raw
            or (openssh_base64 and b"b3BlbnNzaC1rZXktdjEA" in raw))
