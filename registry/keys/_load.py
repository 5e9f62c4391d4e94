"""Format detection: load any public key (SSH, OpenPGP, X.509) and parse material back.

    from registry.keys import load_key, load_material
    key = load_key(open("alice.asc", "rb").read()); again = load_material(key.key_type, key.material)

Detection, in order:

1. private key markers of every format (PEM ``... PRIVATE KEY``, ``PGP PRIVATE
   KEY BLOCK``, OpenSSH, PuTTY, SSH2; binary OpenPGP secret-key packets; DER
   PKCS#8 / PKCS#1 / SEC1 / PKCS#12) -> :class:`~registry.errors.PrivateKeyError`;
2. OpenPGP: a ``PGP ...`` armor header, or binary data whose first packet is a
   public-key packet (tag 6, old or new packet format);
3. X.509: a PEM block such as ``BEGIN CERTIFICATE``, or DER (first byte 0x30);
4. SSH: any other text (``authorized_keys`` lines, bare ``*.pub`` lines,
   RFC 4716 blocks, certificates).

The format modules are imported inside the functions, so ``import
registry.keys`` stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from registry.errors import Error, KeyFormatError, PrivateKeyError, UnsupportedKeyType
from registry.keys._common import MAX_MATERIAL, Key, KeyType, has_private_key_text, input_bytes

__all__ = ["detect_key_type", "load_key", "load_keys", "load_material"]

_Data = bytes | bytearray | memoryview | str

_ARMOR = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----")

_PRIVATE_MESSAGE = (
    "input is a private key; keyanchor only takes public keys"
    " (the private key was not stored or shown)"
)

#: First octet of an OpenPGP packet with a given tag: old format (4 length types) and new format.
_PGP_PUBLIC_FIRST = frozenset({0x98, 0x99, 0x9A, 0x9B, 0xC6})
_PGP_SECRET_FIRST = frozenset({0x94, 0x95, 0x96, 0x97, 0xC5, 0x9C, 0x9D, 0x9E, 0x9F, 0xC7})


def _as_bytes(data: object) -> bytes:
    out = input_bytes(data, "key")
    if not out.strip():
        raise KeyFormatError("empty input: no key found")
    return out


def _refuse_private(raw: bytes) -> None:
    if raw[0] in _PGP_SECRET_FIRST:
        raise PrivateKeyError("input is an OpenPGP secret key; export the public key"
                              " (gpg --export) instead; the key was not stored or shown")
    if raw[0] == 0x30:
        from registry.keys._x509 import _check_der_shape

        _check_der_shape(raw, "input")
    if has_private_key_text(raw):  # base64 of "openssh-key-v1\0" counts too (unarmoured)
        raise PrivateKeyError(_PRIVATE_MESSAGE)


def _is_text(raw: bytes) -> bool:
    if b"\x00" in raw:
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _detect(raw: bytes) -> KeyType:
    first = raw[0]
    if first in _PGP_PUBLIC_FIRST:
        return KeyType.OPENPGP
    if first == 0x30 and (b"-----BEGIN" not in raw or not _is_text(raw)):
        # DER; a text starting with the digit "0" is no SSH key either, and the
        # X.509 loader explains what it got.
        return KeyType.X509
    found = {KeyType.OPENPGP if label.startswith(b"PGP ") else KeyType.X509
             for label in set(_ARMOR.findall(raw))}  # distinct labels only: few, whatever the input
    if len(found) > 1:
        raise KeyFormatError(
            "input mixes OpenPGP armor and X.509 PEM blocks; give one format at a time"
        )
    if found:
        return found.pop()
    if not _is_text(raw):
        raise KeyFormatError(
            "unrecognised binary data: not an OpenPGP public key, a DER X.509 certificate,"
            " or SSH public key text"
        )
    return KeyType.SSH


def detect_key_type(data: _Data) -> KeyType:
    """Return the format of ``data`` without parsing it fully.

    Raises:
        PrivateKeyError: the input is (or contains) a private key.
        KeyFormatError: empty, over 1 MiB, unrecognised binary, or mixed formats.
    """
    raw = _as_bytes(data)
    _refuse_private(raw)
    return _detect(raw)


def _parse_type(key_type: object) -> KeyType:
    if isinstance(key_type, KeyType | str | int) and not isinstance(key_type, bool):
        return KeyType.parse(key_type)
    raise UnsupportedKeyType(f"unknown key type {key_type!r} (ssh, openpgp, x509)")


def _loaders(key_type: KeyType) -> Callable[[bytes], Sequence[Key]]:
    if key_type is KeyType.SSH:
        from registry.keys._ssh_text import load_ssh_public_keys

        return load_ssh_public_keys
    if key_type is KeyType.OPENPGP:
        from registry.keys._openpgp import load_openpgp_certs

        return load_openpgp_certs
    from registry.keys._x509 import load_x509_chain

    return load_x509_chain


def _guarded(key_type: KeyType, fn: Callable[[bytes], Any], arg: bytes) -> Any:
    """Call a format loader; a stray non-keyanchor exception becomes KeyFormatError."""
    try:
        return fn(arg)
    except Error:
        raise
    except Exception as exc:
        raise KeyFormatError(
            f"could not parse the {key_type.label} key ({type(exc).__name__})"
        ) from exc


def load_keys(data: _Data, *, key_type: KeyType | str | int | None = None) -> list[Key]:
    """Load every key in the input: an authorized_keys file, a keyring, a PEM bundle.

    The format is detected (see the module docstring) unless ``key_type`` is given.

    Raises:
        PrivateKeyError: the input is (or contains) a private key of any format.
        UnsupportedKeyType: ``key_type`` is unknown, or a key's algorithm is not handled.
        KeyFormatError: empty or over 1 MiB, unrecognised, malformed, or no key at all.
    """
    raw = _as_bytes(data)
    _refuse_private(raw)
    kind = _detect(raw) if key_type is None else _parse_type(key_type)
    keys = list(_guarded(kind, _loaders(kind), raw))
    if not keys:
        raise KeyFormatError(f"no {kind.label} key found in the input")
    return keys


def load_key(data: _Data, *, key_type: KeyType | str | int | None = None) -> Key:
    """Load exactly one key (SSH key or certificate, OpenPGP certificate, X.509 certificate).

    Raises:
        PrivateKeyError: the input is (or contains) a private key of any format.
        UnsupportedKeyType: ``key_type`` is unknown, or the key's algorithm is not handled.
        KeyFormatError: empty or over 1 MiB, unrecognised, malformed, or more than one key
            (use :func:`load_keys`).
    """
    keys = load_keys(data, key_type=key_type)
    if len(keys) != 1:
        kind = keys[0].key_type.label
        raise KeyFormatError(
            f"expected exactly one key, found {len(keys)} {kind} keys; give one key at a time"
            " (a file of its own for each)"
        )
    return keys[0]


def load_material(key_type: KeyType | str | int, material: bytes | bytearray | memoryview) -> Key:
    """Parse canonical material (as stored on chain) and check that it is canonical.

    SSH: the wire blob; OpenPGP: the binary transferable public key; X.509: the
    DER certificate. Canonical means that parsing and re-serialising gives back
    exactly the same bytes.

    Raises:
        UnsupportedKeyType: unknown ``key_type``.
        PrivateKeyError: the material is a private key.
        KeyFormatError: malformed, larger than ``MAX_MATERIAL``, or not canonical.
    """
    kind = _parse_type(key_type)
    if not isinstance(material, bytes | bytearray | memoryview):
        raise KeyFormatError(f"key material must be bytes, not {type(material).__name__}")
    raw = bytes(material)
    if not raw:
        raise KeyFormatError(f"empty {kind.label} key material")
    if len(raw) > MAX_MATERIAL:
        raise KeyFormatError(
            f"{kind.label} key material is {len(raw)} bytes; the registry takes at most"
            f" {MAX_MATERIAL}"
        )
    loader: Callable[[bytes], Key]
    if kind is KeyType.SSH:
        from registry.keys._ssh import load_ssh_blob

        loader = load_ssh_blob
    elif kind is KeyType.OPENPGP:
        if raw[0] in _PGP_SECRET_FIRST:
            raise PrivateKeyError("OpenPGP material is a secret key; the key was not stored or shown")
        if raw[0] not in _PGP_PUBLIC_FIRST:
            raise KeyFormatError(
                "OpenPGP material must be a binary transferable public key"
                " (starting with a public-key packet)"
            )
        from registry.keys._openpgp import load_openpgp_cert

        loader = load_openpgp_cert
    else:
        from registry.keys._x509 import load_x509_der

        loader = load_x509_der
    key = _guarded(kind, loader, raw)
    if bytes(key.material) != raw:
        raise KeyFormatError(
            f"{kind.label} key material is not canonical (it re-serialises to different bytes)"
        )
    return key
