"""SSH wire blobs: read and check a plain public key, render an authorized_keys line (sshd path).

    algorithm = plain_key_algorithm(material)   # raises unless a plain key that parses
    line = render_authorized_line(algorithm, material, comment="alice@example.org")

What ``keyanchor-ssh authorized-keys`` runs on every login, and nothing else:
it compiles this module (not :mod:`registry.keys._ssh`, with its records,
certificates and known_hosts renderer) when no bytecode is cached
(docs/BENCHMARKS.md); nor, for an Ed25519 key, the other key types' formats
(:mod:`registry.keys._ssh_formats`). :mod:`registry.keys._ssh` parses keys and
renders lines with the same readers, formats, checks and renderer, so both
always agree.
"""

from __future__ import annotations

import binascii

from registry._errors_core import KeyFormatError, UnsupportedKeyType  # sshd path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import datetime
    from typing import Any

    _Reader = Callable[[memoryview], tuple[Any, memoryview]]
    _Params = tuple[tuple[str, Any], ...]
    #: A check validates parsed parameters and returns (bits, curve, application).
    _Check = Callable[[str, _Params], tuple[int, str | None, str | None]]

__all__ = ["plain_key_algorithm", "render_authorized_line", "render_openssh_text"]

#: Largest canonical material the contract accepts (= registry.keys._digest.MAX_MATERIAL,
#: which imports the SHA-256 module this path does not need; a test checks they agree).
MAX_BLOB = 12288

# --------------------------------------------------------------------------- wire readers
# Each reader takes a memoryview and returns (value, rest); a short buffer raises
# KeyFormatError, never IndexError or struct.error.

_TRUNCATED = "truncated SSH key blob"


def _get_sshstr(data: memoryview) -> tuple[memoryview, memoryview]:
    if len(data) < 4:
        raise KeyFormatError(_TRUNCATED)
    n = int.from_bytes(data[:4], "big")
    if n > len(data) - 4:
        raise KeyFormatError(_TRUNCATED)
    return data[4 : 4 + n], data[4 + n :]


def _get_bytes(data: memoryview) -> tuple[bytes, memoryview]:
    value, rest = _get_sshstr(data)
    return bytes(value), rest


# --------------------------------------------------------------------------- formats


class _Format:
    """How to read one key type's fields, and which check applies to them."""

    __slots__ = ("fields", "kind")

    def __init__(self, fields: tuple[tuple[str, _Reader], ...], kind: str) -> None:
        self.fields = fields
        self.kind = kind

    def check(self, name: str, params: _Params) -> tuple[int, str | None, str | None]:
        """Validate parsed parameters; return (bits, curve, application). Raises: KeyFormatError."""
        if self.kind == "ed25519":
            return _check_ed25519(name, params)
        from registry.keys import _ssh_checks  # the other key types: loaded when one is read

        check: _Check = getattr(_ssh_checks, f"check_{self.kind}")
        return check(name, params)


def _check_ed25519(name: str, params: _Params) -> tuple[int, str | None, str | None]:
    if len(params[0][1]) != 32:
        raise KeyFormatError(f"{name} public key must be 32 bytes, got {len(params[0][1])}")
    if small_order_ed25519(params[0][1]):
        raise KeyFormatError(f"{name} public key is a small-order point: a signature verifies"
                             " under it without any private key")
    return 256, None, params[1][1] if len(params) > 1 else None


_P25519 = 2**255 - 19
#: The y of Ed25519's points of order 8 (the others: y = 1, -1, 0 and -this).
_Y_ORDER8 = 0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7
_SMALL_ORDER_Y = frozenset({0, 1, _P25519 - 1, _Y_ORDER8, _P25519 - _Y_ORDER8})


def small_order_ed25519(public: bytes) -> bool:
    """Whether 32-byte Ed25519 public key ``public`` encodes a point of order 1, 2, 4 or 8, in
    any encoding (either sign bit, y reduced or not). Under such a key a signature verifies
    for any message without a private key (the identity: R = its encoding, s = 0), and
    OpenSSH and OpenSSL check no order: anyone could log in with it, or sign for it."""
    y = int.from_bytes(public, "little") & ((1 << 255) - 1)
    return y % _P25519 in _SMALL_ORDER_Y


#: The key type nearly every record holds, read without loading the others' formats.
_ED25519 = {"ssh-ed25519": _Format((("pk", _get_bytes),), "ed25519")}

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_TOKEN_CHARS = _ALNUM | frozenset("@._+-")


def _safe(text: str) -> str:
    """Quote a type token for an error message, or hide it if it is not token-like."""
    return repr(text) if 0 < len(text) <= 64 and _TOKEN_CHARS.issuperset(text) \
        else "(unprintable)"


def _read_fields(fmt: _Format, data: memoryview) -> tuple[_Params, memoryview]:
    params = []
    for name, reader in fmt.fields:
        value, data = reader(data)
        params.append((name, value))
    return tuple(params), data


def _split_type(blob: bytes) -> tuple[memoryview, str, memoryview]:
    """(the blob's view, its key type name, the fields after it)."""
    view = memoryview(blob)
    name_view, rest = _get_sshstr(view)
    return view, bytes(name_view).decode("ascii", "replace"), rest


def _read_plain(name: str, fmt: _Format, rest: memoryview
                ) -> tuple[_Params, int, str | None, str | None]:
    """A plain key's fields after its type name, checked: (params, bits, curve, application).

    Raises: KeyFormatError (malformed, trailing bytes, a failed check).
    """
    params, rest = _read_fields(fmt, rest)
    if rest:
        raise KeyFormatError(f"{name} key blob has {len(rest)} trailing bytes")
    return (params, *fmt.check(name, params))


def plain_key_algorithm(material: bytes) -> str:
    """The key type of plain SSH public key ``material``, read and checked in full.

    The same reading and checks as :func:`registry.keys._ssh.load_ssh_blob`
    (strict fields, minimal integers, no trailing bytes, key sizes, the curve
    point), for what sshd may be given: a certificate is refused here too.

    Raises:
        KeyFormatError: malformed, too large, or a certificate.
        UnsupportedKeyType: a key type keyanchor does not parse.
    """
    if len(material) > MAX_BLOB:
        raise KeyFormatError(f"SSH key blob of {len(material)} bytes exceeds {MAX_BLOB} bytes")
    _view, name, rest = _split_type(bytes(material))
    fmt = _ED25519.get(name)
    if fmt is None:  # every other key type: its format loaded on first need
        from registry.keys._ssh_formats import FORMATS

        fmt = FORMATS.get(name)
        if fmt is None:
            raise UnsupportedKeyType(f"not a plain SSH public key type: {_safe(name)}")
    _read_plain(name, fmt, rest)
    return name


# --------------------------------------------------------------------------- rendering


def render_openssh_text(algorithm: str, material: bytes) -> str:
    """``type base64``, the OpenSSH public key text (no comment, no options)."""
    return f"{algorithm} {binascii.b2a_base64(material, newline=False).decode('ascii')}"


def render_comment(comment: str | None) -> str:
    """`` name`` (a registry name in normal form) or ``""``. Raises: InvalidName."""
    if comment is None:
        return ""
    from registry._grammar import normal_name

    return " " + normal_name(comment)


def render_authorized_line(algorithm: str, material: bytes, *, expiry: datetime | None = None,
                           cert_authority: bool = False, principals: Iterable[str] = (),
                           comment: str | None = None) -> str:
    """One authorized_keys line (no newline) for checked plain key material.

    The options of :func:`registry.keys._ssh.render_authorized_key`, which
    calls this. Raises: InvalidName (comment, principal), KeyFormatError (expiry).
    """
    prefix = ""
    if cert_authority or principals != () or expiry is not None:  # options: loaded on first use
        from registry.keys._ssh_options import authorized_options

        prefix = authorized_options(expiry, cert_authority, principals)
    return prefix + render_openssh_text(algorithm, material) + render_comment(comment)
