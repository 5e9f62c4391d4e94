"""SSH public keys and certificates: parse, canonicalise, fingerprint, render.

    key = load_ssh_public_key(open("id_ed25519.pub").read())
    print(key.fingerprint, render_authorized_key(key, comment="alice@example.org"))

The canonical material of an SSH key is its RFC 4253 wire blob (for a
certificate, the whole certificate blob). Parsing is strict, in the style of
OpenSSH's ``sshkey.c``: every field must be present, integers minimal, no
trailing bytes, so parsing and re-encoding give back the same bytes.

Accepted text input (parsed in :mod:`registry.keys._ssh_text`, which sshd's
path never imports; ``load_ssh_public_key(s)`` are still importable from here):
``authorized_keys`` files (options, comments, blank and ``#`` lines), bare
``type base64 [comment]`` lines (``*.pub``, certificates) and RFC 4716
``---- BEGIN SSH2 PUBLIC KEY ----`` blocks. Private keys (OpenSSH, PEM, PuTTY)
are refused with :class:`~registry.errors.PrivateKeyError`; the message never
repeats any of the input.

Rendered lines are built from parsed material only: a comment or option in the
input never reaches the output.
"""

from __future__ import annotations

from datetime import UTC, datetime

from registry._frozen import Frozen, init_fields
from registry.errors import InvalidName, KeyFormatError, PrivateKeyError, UnsupportedKeyType
from registry.keys._digest import MAX_MATERIAL, sha256_b64

# The wire readers, checks and the authorized_keys renderer live in registry.keys._ssh_wire
# (all sshd's path compiles), every key type's format in registry.keys._ssh_formats (loaded
# by that path for a type other than Ed25519); re-exported here.
from registry.keys._ssh_formats import FORMATS as _FORMATS
from registry.keys._ssh_formats import (
    _get_mpint,  # noqa: F401 -- re-exported (registry.proofs)
    _get_text,
)
from registry.keys._ssh_wire import (
    _TRUNCATED,
    _get_bytes,
    _get_sshstr,
    _read_fields,
    _read_plain,
    _safe,
    _split_type,
    render_authorized_line,
    render_comment,
    render_openssh_text,
)

# What sshd's AuthorizedKeysCommand imports (docs/BENCHMARKS.md, tests/index/test_sshd_imports.py):
# no dataclasses, typing, re, hashlib, enum or registry.keys._common at import time.
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from registry.keys._common import KeyType

__all__ = [
    "CERT_ALGORITHMS",
    "PLAIN_ALGORITHMS",
    "SSHCertificate",
    "SSHPublicKey",
    "load_ssh_blob",
    "render_authorized_key",
    "render_known_hosts_line",
    "render_openssh",
]

#: Names that live in :mod:`registry.keys._ssh_text` (the text parsers, the re-encoder),
#: handed out from here on first use so that older imports keep working.
_TEXT_NAMES = frozenset({
    "load_ssh_public_key", "load_ssh_public_keys", "MAX_OPTIONS", "MAX_RFC4716_HEADER_LINES",
    "_encode", "_parse_line", "_parse_options", "_split_options", "_b64decode",
})  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _TEXT_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from registry.keys import _ssh_text

    return getattr(_ssh_text, name)

_U64_MAX = (1 << 64) - 1
_FOREVER = _U64_MAX
_MAX_DATETIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

# --------------------------------------------------------------------------- records

#: Values of a certificate option or extension: ``None`` for a flag (empty data),
#: ``str`` for the usual nested string, ``bytes`` for any other (opaque) data.
OptionValue = str | bytes | None


class SSHCertificate(Frozen):
    """An OpenSSH certificate (PROTOCOL.certkeys), as parsed from its blob.

    ``signed_data`` is the part of the blob the CA signed and ``signature`` the
    CA's SSH signature blob (``string algorithm, string sig[, sk fields]``), so a
    verifier can check the CA signature with ``signature_key``.
    """

    __slots__ = _fields = (
        "nonce", "public_key", "serial", "cert_type", "key_id", "principals", "valid_after",
        "valid_before", "critical_options", "extensions", "reserved", "signature_key",
        "signature_algorithm", "signed_data", "signature",
    )  # fmt: skip
    nonce: bytes
    public_key: SSHPublicKey
    serial: int
    cert_type: str
    key_id: str
    principals: tuple[str, ...]
    valid_after: int
    valid_before: int
    critical_options: tuple[tuple[str, OptionValue], ...]
    extensions: tuple[tuple[str, OptionValue], ...]
    reserved: bytes
    signature_key: SSHPublicKey
    signature_algorithm: str
    signed_data: bytes
    signature: bytes

    def __init__(self, nonce: bytes, public_key: SSHPublicKey, serial: int, cert_type: str,
                 key_id: str, principals: tuple[str, ...], valid_after: int, valid_before: int,
                 critical_options: tuple[tuple[str, OptionValue], ...],
                 extensions: tuple[tuple[str, OptionValue], ...], reserved: bytes,
                 signature_key: SSHPublicKey, signature_algorithm: str, signed_data: bytes,
                 signature: bytes) -> None:
        init_fields(self, nonce=nonce, public_key=public_key, serial=serial,
                    cert_type=cert_type, key_id=key_id, principals=principals,
                    valid_after=valid_after, valid_before=valid_before,
                    critical_options=critical_options, extensions=extensions,
                    reserved=reserved, signature_key=signature_key,
                    signature_algorithm=signature_algorithm, signed_data=signed_data,
                    signature=signature)

    @property
    def valid_from(self) -> datetime | None:
        """Start of validity (``None`` when the certificate is valid from the epoch)."""
        return None if self.valid_after == 0 else _to_datetime(self.valid_after)

    @property
    def valid_until(self) -> datetime | None:
        """End of validity (``None`` for a certificate valid forever)."""
        return None if self.valid_before == _FOREVER else _to_datetime(self.valid_before)

    def to_dict(self) -> dict[str, Any]:
        from registry.keys._ssh_text import certificate_dict

        return certificate_dict(self)



class SSHPublicKey(Frozen):
    """An SSH public key or certificate.

    ``material`` is the wire blob (the whole certificate for a certificate);
    ``public_blob`` the plain public key blob (for a certificate, the certified
    key) whose SHA-256 is ``fingerprint``. ``parameters`` holds the key's
    numbers and strings by name (``e``/``n`` for RSA, ``curve``/``point`` for
    ECDSA, ``pk`` for Ed25519, ``p``/``q``/``g``/``y`` for DSA, ``application``
    for security keys). ``comment`` and ``options`` are what the input line had;
    they are informational, never rendered, and not part of equality.
    """

    __slots__ = _fields = ("material", "algorithm", "bits", "fingerprint", "public_blob",
                           "parameters", "curve", "application", "certificate", "comment",
                           "options")
    _compare = _fields[:-2]  # not comment and options
    material: bytes
    algorithm: str
    bits: int
    fingerprint: str
    public_blob: bytes
    parameters: tuple[tuple[str, int | bytes | str], ...]
    curve: str | None
    application: str | None
    certificate: SSHCertificate | None
    comment: str | None
    options: tuple[tuple[str, str | None], ...]

    def __init__(self, material: bytes, algorithm: str, bits: int, fingerprint: str,
                 public_blob: bytes, parameters: tuple[tuple[str, int | bytes | str], ...],
                 curve: str | None = None, application: str | None = None,
                 certificate: SSHCertificate | None = None, comment: str | None = None,
                 options: tuple[tuple[str, str | None], ...] = ()) -> None:
        init_fields(self, material=material, algorithm=algorithm, bits=bits,
                    fingerprint=fingerprint, public_blob=public_blob, parameters=parameters,
                    curve=curve, application=application, certificate=certificate,
                    comment=comment, options=options)

    @property
    def key_type(self) -> KeyType:
        from registry.keys._common import KeyType

        return KeyType.SSH

    @property
    def plain_algorithm(self) -> str:
        """The plain key type (for a certificate, the certified key's type)."""
        return _CERT_TO_PLAIN.get(self.algorithm, self.algorithm)

    @property
    def is_certificate(self) -> bool:
        return self.certificate is not None

    @property
    def is_security_key(self) -> bool:
        return self.application is not None

    @property
    def identities(self) -> tuple[str, ...]:
        return self.certificate.principals if self.certificate is not None else ()

    @property
    def valid_from(self) -> datetime | None:
        return self.certificate.valid_from if self.certificate is not None else None

    @property
    def valid_until(self) -> datetime | None:
        return self.certificate.valid_until if self.certificate is not None else None

    @property
    def commitment(self) -> bytes:
        from registry.keys._common import KeyType, commitment

        return commitment(KeyType.SSH, self.material)

    def parameter(self, name: str) -> int | bytes | str:
        """Return one of :attr:`parameters` by name.

        Raises:
            KeyFormatError: the key has no such parameter.
        """
        for key, value in self.parameters:
            if key == name:
                return value
        raise KeyFormatError(f"{self.algorithm} key has no parameter {name!r}")

    def to_dict(self) -> dict[str, Any]:
        from registry.keys._ssh_text import key_dict

        return key_dict(self)

    def __str__(self) -> str:
        return render_openssh(self)


def _to_datetime(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return _MAX_DATETIME


# --------------------------------------------------------------------------- wire readers
# Each reader takes a memoryview and returns (value, rest); a short buffer raises
# KeyFormatError, never IndexError or struct.error.

def _get_u32(data: memoryview) -> tuple[int, memoryview]:
    if len(data) < 4:
        raise KeyFormatError(_TRUNCATED)
    return int.from_bytes(data[:4], "big"), data[4:]


def _get_u64(data: memoryview) -> tuple[int, memoryview]:
    if len(data) < 8:
        raise KeyFormatError(_TRUNCATED)
    return int.from_bytes(data[:8], "big"), data[8:]


def _sshstr(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


# --------------------------------------------------------------------------- formats

_CERT_TO_PLAIN = {
    name.removesuffix("@openssh.com") + "-cert-v01@openssh.com": name for name in _FORMATS
}
#: Plain key types this module parses.
PLAIN_ALGORITHMS: tuple[str, ...] = tuple(_FORMATS)
#: Certificate types this module parses.
CERT_ALGORITHMS: tuple[str, ...] = tuple(_CERT_TO_PLAIN)
_ALL_ALGORITHMS = frozenset(PLAIN_ALGORITHMS + CERT_ALGORITHMS)

#: Signature algorithms a CA key of each type may use (sshkey.c).
_SIG_ALGORITHMS = {name: (name,) for name in _FORMATS} | {
    "ssh-rsa": ("ssh-rsa", "rsa-sha2-256", "rsa-sha2-512")
}
_CERT_TYPES = {1: "user", 2: "host"}

class _Lazy:
    """A regular expression compiled on first use: the sshd path parses no key text and
    imports no :mod:`re` for it."""

    __slots__ = ("_pattern", "_rx")

    def __init__(self, pattern: str) -> None:
        self._pattern = pattern
        self._rx: Any = None

    def __getattr__(self, name: str) -> Any:  # match, search, ...
        if self._rx is None:
            import re

            self._rx = re.compile(self._pattern)
        return getattr(self._rx, name)


def _parse_blob(
    blob: bytes,
    *,
    comment: str | None = None,
    options: tuple[tuple[str, str | None], ...] = (),
    allow_cert: bool = True,
) -> SSHPublicKey:
    view, name, rest = _split_type(blob)
    fmt = _FORMATS.get(name)
    if fmt is not None:
        params, bits, curve, application = _read_plain(name, fmt, rest)
        return SSHPublicKey(
            blob, name, bits, sha256_b64(blob), blob, params, curve, application,
            None, comment, options,
        )  # fmt: skip
    plain = _CERT_TO_PLAIN.get(name)
    if plain is None:
        raise UnsupportedKeyType(f"unsupported SSH key type {_safe(name)}")
    if not allow_cert:
        raise KeyFormatError("a certificate cannot be a CA signature key")
    return _parse_cert(blob, view, name, plain, rest, comment, options)


#: Most principals, critical options or extensions one certificate may carry: OpenSSH caps
#: principals at 256 (SSHKEY_CERT_MAX_PRINCIPALS); the same bound keeps the option lists of a
#: 12 KB certificate (thousands of empty entries otherwise) cheap to read.
MAX_CERT_LIST = 256


def _get_string_list(data: memoryview, what: str) -> tuple[str, ...]:
    items: list[str] = []
    while data:
        if len(items) == MAX_CERT_LIST:
            raise KeyFormatError(f"certificate has more than {MAX_CERT_LIST} {what}s")
        item, data = _get_text(data)
        items.append(item)
    return tuple(items)


def _get_options(data: memoryview, what: str) -> tuple[tuple[str, OptionValue], ...]:
    items: list[tuple[str, OptionValue]] = []
    seen = set()
    while data:
        if len(items) == MAX_CERT_LIST:
            raise KeyFormatError(f"certificate has more than {MAX_CERT_LIST} {what}s")
        name, data = _get_text(data)
        raw, data = _get_sshstr(data)
        if name in seen:
            raise KeyFormatError(f"certificate repeats {what} {_safe(name)}")
        seen.add(name)
        value: OptionValue = None
        if raw:
            value = bytes(raw)
            if len(raw) >= 4 and int.from_bytes(raw[:4], "big") == len(raw) - 4:
                try:
                    value = bytes(raw[4:]).decode("utf-8")
                except UnicodeDecodeError:
                    pass
        items.append((name, value))
    return tuple(items)


def _parse_cert(
    blob: bytes,
    view: memoryview,
    name: str,
    plain: str,
    rest: memoryview,
    comment: str | None,
    options: tuple[tuple[str, str | None], ...],
) -> SSHPublicKey:
    nonce, rest = _get_bytes(rest)
    key_start = len(view) - len(rest)
    fmt = _FORMATS[plain]
    params, rest = _read_fields(fmt, rest)
    public_blob = _sshstr(plain.encode()) + bytes(view[key_start : len(view) - len(rest)])
    bits, curve, application = fmt.check(plain, params)
    fingerprint = sha256_b64(public_blob)
    certified = SSHPublicKey(public_blob, plain, bits, fingerprint, public_blob, params,
                             curve, application)  # fmt: skip
    serial, rest = _get_u64(rest)
    type_code, rest = _get_u32(rest)
    cert_type = _CERT_TYPES.get(type_code)
    if cert_type is None:
        raise KeyFormatError(f"certificate type {type_code} is neither user (1) nor host (2)")
    key_id, rest = _get_text(rest)
    principals_raw, rest = _get_sshstr(rest)
    principals = _get_string_list(principals_raw, "principal")
    valid_after, rest = _get_u64(rest)
    valid_before, rest = _get_u64(rest)
    if valid_after > valid_before:
        raise KeyFormatError("certificate validity ends before it starts")
    critical_raw, rest = _get_sshstr(rest)
    critical = _get_options(critical_raw, "critical option")
    extensions_raw, rest = _get_sshstr(rest)
    extensions = _get_options(extensions_raw, "extension")
    reserved, rest = _get_bytes(rest)
    ca_blob, rest = _get_bytes(rest)
    signed_data = bytes(view[: len(view) - len(rest)])
    signature, rest = _get_bytes(rest)
    if rest:
        raise KeyFormatError(f"{name} blob has {len(rest)} trailing bytes")
    ca_key = _parse_blob(ca_blob, allow_cert=False)
    sig_name_view, _sig_rest = _get_sshstr(memoryview(signature))
    sig_alg = bytes(sig_name_view).decode("ascii", "replace")
    if sig_alg not in _SIG_ALGORITHMS[ca_key.algorithm]:
        raise KeyFormatError(
            f"certificate signature algorithm {_safe(sig_alg)} does not fit a"
            f" {ca_key.algorithm} CA key"
        )
    cert = SSHCertificate(
        nonce=nonce,
        public_key=certified,
        serial=serial,
        cert_type=cert_type,
        key_id=key_id,
        principals=principals,
        valid_after=valid_after,
        valid_before=valid_before,
        critical_options=critical,
        extensions=extensions,
        reserved=reserved,
        signature_key=ca_key,
        signature_algorithm=sig_alg,
        signed_data=signed_data,
        signature=signature,
    )
    return SSHPublicKey(blob, name, bits, fingerprint, public_blob, params, curve,
                        application, cert, comment, options)  # fmt: skip


# --------------------------------------------------------------------------- loaders


_PRIVATE_MESSAGE = "input is {kind}; give the public key (for example the .pub file) instead"


def load_ssh_blob(blob: bytes | bytearray | memoryview) -> SSHPublicKey:
    """Parse canonical SSH material (a key or certificate wire blob), e.g. from the chain.

    Raises:
        KeyFormatError: truncated, malformed or trailing bytes, or larger than ``MAX_MATERIAL``.
        UnsupportedKeyType: a key type this module does not handle.
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise KeyFormatError(f"SSH key blob must be bytes, not {type(blob).__name__}")
    data = bytes(blob)
    if len(data) > MAX_MATERIAL:
        raise KeyFormatError(f"SSH key blob of {len(data)} bytes exceeds {MAX_MATERIAL} bytes")
    if data.startswith(b"openssh-key-v1\x00"):
        raise PrivateKeyError(_PRIVATE_MESSAGE.format(kind="an OpenSSH private key"))
    return _parse_blob(data)


# --------------------------------------------------------------------------- renderers


def render_openssh(key: SSHPublicKey) -> str:
    """Return ``type base64``, the OpenSSH public key text (no comment, no options)."""
    return render_openssh_text(key.algorithm, key.material)


_HOST_PATTERN = _Lazy(
    r"!?(?:\[[A-Za-z0-9.:%*?_-]+\]:[0-9]{1,5}|[A-Za-z0-9.:%*?_-]+)\Z"
    r"|\|1\|[A-Za-z0-9+/]+=*\|[A-Za-z0-9+/]+=*\Z"
)


def render_authorized_key(
    key: SSHPublicKey,
    *,
    expiry: datetime | None = None,
    cert_authority: bool = False,
    principals: Iterable[str] = (),
    comment: str | None = None,
) -> str:
    """Render one authorized_keys line (no newline) from parsed material.

    Only keyanchor's own options appear: ``cert-authority``, ``principals="a,b"``
    and ``expiry-time="YYYYMMDDHHMMSSZ"`` (UTC, as sshd(8) reads it). The comment,
    when given, must be a registry name.

    Raises:
        InvalidName: the comment is not a registry name, or a principal is not a safe token.
        KeyFormatError: ``expiry`` is not an aware datetime, or a certificate
            is given with ``cert_authority``.
    """
    if cert_authority and key.certificate is not None:
        raise KeyFormatError("cert-authority needs a plain CA key, not a certificate")
    return render_authorized_line(key.algorithm, key.material, expiry=expiry,
                                  cert_authority=cert_authority, principals=principals,
                                  comment=comment)


def render_known_hosts_line(
    key: SSHPublicKey,
    hosts: str | Sequence[str],
    *,
    marker: str | None = None,
    comment: str | None = None,
) -> str:
    """Render one known_hosts line (no newline): ``[marker] hosts type base64 [comment]``.

    ``hosts`` is a pattern or a list of patterns (joined with commas): host names,
    addresses, ``[host]:port``, wildcards, ``!`` negations or hashed ``|1|`` entries.

    Raises:
        InvalidName: a host pattern with spaces, quotes or control characters, no
            host at all, or a comment that is not a registry name.
        KeyFormatError: an unknown marker, or a certificate given (known_hosts
            holds plain keys; publish the CA key with ``@cert-authority``).
    """
    if marker not in (None, "@cert-authority", "@revoked"):
        raise KeyFormatError(
            f"known_hosts marker must be @cert-authority or @revoked, not {marker!r}"
        )
    if key.certificate is not None:
        raise KeyFormatError("known_hosts lines hold plain keys, not certificates")
    patterns = hosts.split(",") if isinstance(hosts, str) else list(hosts)
    if not patterns:
        raise InvalidName("known_hosts line needs at least one host pattern")
    for p in patterns:
        if not isinstance(p, str) or not _HOST_PATTERN.match(p):
            raise InvalidName(f"invalid known_hosts host pattern {p!r}")
    prefix = marker + " " if marker else ""
    return f"{prefix}{','.join(patterns)} {render_openssh(key)}{render_comment(comment)}"
