"""SSH public keys and certificates: parse, canonicalise, fingerprint, render.

    key = load_ssh_public_key(open("id_ed25519.pub").read())
    print(key.fingerprint, render_authorized_key(key, comment="alice@example.org"))

The canonical material of an SSH key is its RFC 4253 wire blob (for a
certificate, the whole certificate blob). Parsing is strict, in the style of
OpenSSH's ``sshkey.c``: every field must be present, integers minimal, no
trailing bytes, so parsing and re-encoding give back the same bytes.

Accepted text input: ``authorized_keys`` files (options, comments, blank and
``#`` lines), bare ``type base64 [comment]`` lines (``*.pub``, certificates)
and RFC 4716 ``---- BEGIN SSH2 PUBLIC KEY ----`` blocks. Private keys (OpenSSH,
PEM, PuTTY) are refused with :class:`~registry.errors.PrivateKeyError`; the
message never repeats any of the input.

Rendered lines are built from parsed material only: a comment or option in the
input never reaches the output.
"""

from __future__ import annotations

import binascii
from datetime import UTC, datetime

from registry._frozen import Frozen, init_fields
from registry.errors import InvalidName, KeyFormatError, PrivateKeyError, UnsupportedKeyType
from registry.keys._digest import MAX_MATERIAL, sha256_b64

# What sshd's AuthorizedKeysCommand imports (docs/BENCHMARKS.md, tests/index/test_sshd_imports.py):
# no dataclasses, typing, re, hashlib, enum or registry.keys._common at import time.
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    from registry.keys._common import KeyType

__all__ = [
    "CERT_ALGORITHMS",
    "PLAIN_ALGORITHMS",
    "SSHCertificate",
    "SSHPublicKey",
    "load_ssh_blob",
    "load_ssh_public_key",
    "load_ssh_public_keys",
    "render_authorized_key",
    "render_known_hosts_line",
    "render_openssh",
]

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
        return {
            "cert_type": self.cert_type,
            "serial": self.serial,
            "key_id": self.key_id,
            "principals": list(self.principals),
            "valid_after": self.valid_after,
            "valid_before": self.valid_before,
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until),
            "critical_options": [[k, _json_value(v)] for k, v in self.critical_options],
            "extensions": [[k, _json_value(v)] for k, v in self.extensions],
            "nonce": self.nonce.hex(),
            "public_key": self.public_key.material.hex(),
            "signature_key": {
                "algorithm": self.signature_key.algorithm,
                "fingerprint": self.signature_key.fingerprint,
                "material": self.signature_key.material.hex(),
            },
            "signature_algorithm": self.signature_algorithm,
        }


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
        return {
            "key_type": "ssh",
            "algorithm": self.algorithm,
            "bits": self.bits,
            "fingerprint": self.fingerprint,
            "material": self.material.hex(),
            "commitment": self.commitment.hex(),
            "public_blob": self.public_blob.hex(),
            "curve": self.curve,
            "application": self.application,
            "identities": list(self.identities),
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until),
            "comment": self.comment,
            "options": [[k, v] for k, v in self.options],
            "certificate": self.certificate.to_dict() if self.certificate is not None else None,
        }

    def __str__(self) -> str:
        return render_openssh(self)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_value(value: OptionValue) -> str | None:
    return value.hex() if isinstance(value, bytes) else value


def _to_datetime(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return _MAX_DATETIME


# --------------------------------------------------------------------------- wire readers
# Each reader takes a memoryview and returns (value, rest); a short buffer raises
# KeyFormatError, never IndexError or struct.error.

_TRUNCATED = "truncated SSH key blob"


def _get_u32(data: memoryview) -> tuple[int, memoryview]:
    if len(data) < 4:
        raise KeyFormatError(_TRUNCATED)
    return int.from_bytes(data[:4], "big"), data[4:]


def _get_u64(data: memoryview) -> tuple[int, memoryview]:
    if len(data) < 8:
        raise KeyFormatError(_TRUNCATED)
    return int.from_bytes(data[:8], "big"), data[8:]


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


def _get_text(data: memoryview) -> tuple[str, memoryview]:
    value, rest = _get_sshstr(data)
    try:
        text = bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeyFormatError("SSH key blob holds a string that is not UTF-8") from exc
    if "\x00" in text:
        raise KeyFormatError("SSH key blob holds a string with a NUL byte")
    return text, rest


def _get_mpint(data: memoryview) -> tuple[int, memoryview]:
    value, rest = _get_sshstr(data)
    if value:
        if value[0] & 0x80:
            raise KeyFormatError("SSH key blob holds a negative integer")
        if value[0] == 0 and (len(value) == 1 or not value[1] & 0x80):
            raise KeyFormatError("SSH key blob holds a non-minimal integer encoding")
    return int.from_bytes(value, "big"), rest


def _sshstr(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _mpint(value: int) -> bytes:
    if value == 0:
        return _sshstr(b"")
    return _sshstr(value.to_bytes(value.bit_length() // 8 + 1, "big"))


# --------------------------------------------------------------------------- formats

if TYPE_CHECKING:
    _Reader = Callable[[memoryview], tuple[Any, memoryview]]
    _Params = tuple[tuple[str, Any], ...]
    #: A check validates parsed parameters and returns (bits, curve, application).
    _Check = Callable[[str, _Params], tuple[int, str | None, str | None]]


class _Format:
    """How to read one key type's fields, and the check on them."""

    __slots__ = ("check", "fields")

    def __init__(self, fields: tuple[tuple[str, _Reader], ...], check: _Check) -> None:
        self.fields = fields
        self.check = check


def _check_ed25519(name: str, params: _Params) -> tuple[int, str | None, str | None]:
    if len(params[0][1]) != 32:
        raise KeyFormatError(f"{name} public key must be 32 bytes, got {len(params[0][1])}")
    return 256, None, params[1][1] if len(params) > 1 else None


def _check_rsa(name: str, params: _Params) -> tuple[int, str | None, str | None]:
    e, n = params[0][1], params[1][1]
    bits = n.bit_length()
    if bits < 512:
        raise KeyFormatError(f"{name} modulus of {bits} bits is too small to be an RSA key")
    if not n & 1:
        raise KeyFormatError(f"{name} modulus is even")
    if e < 3 or not e & 1 or e >= n:
        raise KeyFormatError(f"{name} public exponent must be odd, at least 3 and below n")
    return bits, None, None


def _check_dsa(name: str, params: _Params) -> tuple[int, str | None, str | None]:
    p, q, g, y = (v for _, v in params)
    if p.bit_length() < 512 or not p & 1 or not 1 < q < p or not 1 < g < p or not 1 < y < p:
        raise KeyFormatError(f"{name} parameters are not a DSA public key")
    return p.bit_length(), None, None


_CURVES = {"nistp256": (256, 65), "nistp384": (384, 97), "nistp521": (521, 133)}


def _check_ecdsa(name: str, params: _Params) -> tuple[int, str | None, str | None]:
    curve, point = params[0][1], params[1][1]
    expected = name.removeprefix("sk-").removesuffix("@openssh.com").rpartition("-")[2]
    if curve != expected:
        raise KeyFormatError(f"{name} key names curve {_safe(curve)} instead of {expected}")
    bits, size = _CURVES[curve]
    if len(point) != size or point[0] != 4:
        raise KeyFormatError(f"{name} public point must be an uncompressed {curve} point")
    _check_on_curve(curve, point)
    application = params[2][1] if len(params) > 2 else None
    return bits, curve, application


def _check_on_curve(curve: str, point: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec  # lazy: import cost

    crv: ec.EllipticCurve
    if curve == "nistp256":
        crv = ec.SECP256R1()
    elif curve == "nistp384":
        crv = ec.SECP384R1()
    else:
        crv = ec.SECP521R1()
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(crv, point)
    except ValueError as exc:
        raise KeyFormatError(f"ECDSA public point is not on {curve}") from exc


_ED = (("pk", _get_bytes),)
_EC = (("curve", _get_text), ("point", _get_bytes))
_APP = (("application", _get_text),)

_FORMATS: dict[str, _Format] = {
    "ssh-ed25519": _Format(_ED, _check_ed25519),
    "sk-ssh-ed25519@openssh.com": _Format(_ED + _APP, _check_ed25519),
    "ecdsa-sha2-nistp256": _Format(_EC, _check_ecdsa),
    "ecdsa-sha2-nistp384": _Format(_EC, _check_ecdsa),
    "ecdsa-sha2-nistp521": _Format(_EC, _check_ecdsa),
    "sk-ecdsa-sha2-nistp256@openssh.com": _Format(_EC + _APP, _check_ecdsa),
    "ssh-rsa": _Format((("e", _get_mpint), ("n", _get_mpint)), _check_rsa),
    "ssh-dss": _Format(tuple((k, _get_mpint) for k in "pqgy"), _check_dsa),
}

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


def _parse_blob(
    blob: bytes,
    *,
    comment: str | None = None,
    options: tuple[tuple[str, str | None], ...] = (),
    allow_cert: bool = True,
) -> SSHPublicKey:
    view = memoryview(blob)
    name_view, rest = _get_sshstr(view)
    name = bytes(name_view).decode("ascii", "replace")
    fmt = _FORMATS.get(name)
    if fmt is not None:
        params, rest = _read_fields(fmt, rest)
        if rest:
            raise KeyFormatError(f"{name} key blob has {len(rest)} trailing bytes")
        bits, curve, application = fmt.check(name, params)
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


def _encode_options(items: tuple[tuple[str, OptionValue], ...]) -> bytes:
    out = b""
    for name, value in items:
        if value is None:
            data = b""
        elif isinstance(value, str):
            data = _sshstr(value.encode())
        else:
            data = value
        out += _sshstr(name.encode()) + _sshstr(data)
    return out


def _encode_params(params: _Params) -> bytes:
    out = b""
    for _name, value in params:
        if isinstance(value, int):
            out += _mpint(value)
        elif isinstance(value, str):
            out += _sshstr(value.encode())
        else:
            out += _sshstr(value)
    return out


def _encode(key: SSHPublicKey) -> bytes:
    """Re-encode a parsed key from its fields (the parser's round-trip check)."""
    cert = key.certificate
    if cert is None:
        return _sshstr(key.algorithm.encode()) + _encode_params(key.parameters)
    tbs = (
        _sshstr(key.algorithm.encode())
        + _sshstr(cert.nonce)
        + _encode_params(key.parameters)
        + cert.serial.to_bytes(8, "big")
        + {"user": 1, "host": 2}[cert.cert_type].to_bytes(4, "big")
        + _sshstr(cert.key_id.encode())
        + _sshstr(b"".join(_sshstr(p.encode()) for p in cert.principals))
        + cert.valid_after.to_bytes(8, "big")
        + cert.valid_before.to_bytes(8, "big")
        + _sshstr(_encode_options(cert.critical_options))
        + _sshstr(_encode_options(cert.extensions))
        + _sshstr(cert.reserved)
        + _sshstr(_encode(cert.signature_key))
    )
    return tbs + _sshstr(cert.signature)


# --------------------------------------------------------------------------- loaders


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


def load_ssh_public_key(data: bytes | bytearray | memoryview | str) -> SSHPublicKey:
    """Parse exactly one SSH public key or certificate from text.

    Raises:
        KeyFormatError: no key, more than one key, or a malformed one.
        PrivateKeyError: the input is a private key.
        UnsupportedKeyType: a key type this module does not handle.
    """
    keys = load_ssh_public_keys(data)
    if len(keys) != 1:
        raise KeyFormatError(
            "no SSH public key found in the input"
            if not keys
            else f"expected one SSH public key, found {len(keys)}"
        )
    return keys[0]


def load_ssh_public_keys(data: bytes | bytearray | memoryview | str) -> list[SSHPublicKey]:
    """Parse every SSH public key and certificate in an authorized_keys / .pub / RFC 4716 text.

    Blank lines and ``#`` comments are skipped; the first malformed line stops
    parsing with an error naming its line number.

    Raises:
        KeyFormatError: input over 1 MiB, not text, or a malformed line.
        PrivateKeyError: the input is (or contains) a private key.
        UnsupportedKeyType: a line holds a key type this module does not handle.
    """
    text = _as_text(data)
    _refuse_private(text)
    keys: list[SSHPublicKey] = []
    # Content lines are found by one regex search each (blank and "#" lines are skipped in C):
    # a Python loop over 500,000 empty lines alone took ~150 ms.
    pos, counted, lineno = 0, 0, 1
    while True:
        m = _CONTENT_LINE.search(text, pos)
        if m is None:
            return keys
        lineno += text.count("\n", counted, m.start())
        counted = m.start()
        line = m.group(1).rstrip(" \t\r")
        pos = m.end()
        if line.startswith("-----BEGIN "):
            pem = _PEM_LABEL.match(line)
            label = pem.group(1) if pem else "PEM"
            raise KeyFormatError(
                f"line {lineno}: {label} data is not an SSH public key (expected 'type base64' lines)"
            )
        if line.startswith("---- BEGIN SSH2 PUBLIC KEY ----"):
            key, pos = _parse_rfc4716(text, pos, lineno)
            keys.append(key)
            continue
        try:
            keys.append(_parse_line(line))
        except KeyFormatError as exc:
            raise type(exc)(f"line {lineno}: {exc}") from exc


#: A line whose first character after spaces, tabs and CRs is neither "#" nor the end of line.
_CONTENT_LINE = _Lazy(r"(?m)^[ \t\r]*([^ \t\r\n#][^\n]*)")


def _as_text(data: object) -> str:
    from registry.keys._common import input_bytes

    return input_bytes(data, "SSH key").decode("utf-8", "replace")


_PRIVATE_MESSAGE = "input is {kind}; give the public key (for example the .pub file) instead"
_PEM_LABEL = _Lazy(r"-----BEGIN ([A-Z0-9 ]{1,40})-----")
_PEM_PRIVATE = _Lazy(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----")


def _refuse_private(text: str) -> None:
    if "PRIVATE KEY" in text:
        if "-----BEGIN OPENSSH PRIVATE KEY-----" in text:
            raise PrivateKeyError(_PRIVATE_MESSAGE.format(kind="an OpenSSH private key"))
        if _PEM_PRIVATE.search(text):
            raise PrivateKeyError(_PRIVATE_MESSAGE.format(kind="a PEM private key"))
        if "-----BEGIN PGP PRIVATE KEY BLOCK-----" in text:
            raise PrivateKeyError(_PRIVATE_MESSAGE.format(kind="an OpenPGP secret key"))
        if "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----" in text:
            raise PrivateKeyError(_PRIVATE_MESSAGE.format(kind="an SSH2 private key"))
    if "PuTTY-User-Key-File-" in text:
        raise PrivateKeyError(_PRIVATE_MESSAGE.format(kind="a PuTTY private key"))
    if "b3BlbnNzaC1rZXktdjEA" in text:  # base64 of "openssh-key-v1\0" without armour
        raise PrivateKeyError(_PRIVATE_MESSAGE.format(kind="an OpenSSH private key"))


def _b64decode(text: str) -> bytes:
    if len(text) > MAX_MATERIAL * 2:
        raise KeyFormatError(f"key is larger than {MAX_MATERIAL} bytes")
    try:
        blob = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise KeyFormatError("key data is not valid base64") from exc
    if len(blob) > MAX_MATERIAL:
        raise KeyFormatError(f"key of {len(blob)} bytes exceeds {MAX_MATERIAL} bytes")
    return blob


def _parse_line(line: str) -> SSHPublicKey:
    parts = line.split(None, 2)
    if not parts:  # only whitespace that str.split() knows (e.g. \x1f) but the caller kept
        raise KeyFormatError("not an SSH public key line")
    options: tuple[tuple[str, str | None], ...] = ()
    if parts[0] not in _ALL_ALGORITHMS:
        option_text, masked, rest = _split_options(line)
        parts = rest.split(None, 2)
        if not parts or parts[0] not in _ALL_ALGORITHMS:
            # Either an unknown key type (``type base64``) or options then one.
            if len(parts) >= 1 and _looks_like_blob(parts[0]):
                raise UnsupportedKeyType(f"unsupported SSH key type {_safe(option_text)}")
            if len(parts) >= 2 and _looks_like_blob(parts[1]):
                raise UnsupportedKeyType(f"unsupported SSH key type {_safe(parts[0])}")
            raise KeyFormatError("not an SSH public key line")
        options = _parse_options(option_text, masked)
    if len(parts) < 2:
        raise KeyFormatError(f"{parts[0]} line has no key data")
    name = parts[0]
    blob = _b64decode(parts[1])
    comment = parts[2].strip() if len(parts) > 2 else None
    key = _parse_blob(blob, comment=comment or None, options=options)
    if key.algorithm != name:
        raise KeyFormatError(f"line says {name} but the key data is {key.algorithm}")
    return key


def _looks_like_blob(token: str) -> bool:
    return token.startswith("AAAA") and len(token) >= 16


#: Options text up to the first space or tab outside double quotes
#: (``sshkey_advance_past_options``), matched in C on the line with its escaped quotes
#: masked (:func:`_mask_escaped_quotes`): a quoted string then runs to the next ``"``, one
#: character class, and the quantifiers are possessive (no backtracking state is kept), so
#: time is linear and memory constant. (A per-character Python loop over a 1 MiB line took
#: ~200 ms; plain ``*`` kept 125 MB of backtracking state on 1 MiB of "no-pty,"; matching
#: the escapes in the regex itself took two ~100 ms passes over 1 MiB of ``\"``.)
_OPTIONS_PREFIX = _Lazy(r'(?:[^ \t"]++|"[^"]*+")*+')


def _mask_escaped_quotes(text: str) -> str:
    """``text`` with each backslash-quote pair replaced by two NULs (same length).

    sshd's rule (``opt_dequote``): a quote preceded by a backslash is part of the
    text, inside double quotes or out; so in the result every ``"`` left is one that
    opens or closes a quoted string. (Pairs never overlap: the second character of
    one cannot be the first of the next.) Only the positions of ``"``, space and
    tab are read from the result; values are sliced from ``text``.
    """
    return text.replace('\\"', "\0\0") if '\\"' in text else text


def _split_options(line: str) -> tuple[str, str, str]:
    """Split ``options rest`` at the first whitespace outside double quotes:
    ``(options, options masked by _mask_escaped_quotes, rest)``."""
    masked = _mask_escaped_quotes(line)
    end = _OPTIONS_PREFIX.match(masked).end()  # (always matches)
    if end < len(line) and line[end] == '"':
        raise KeyFormatError("options have an unterminated quote")
    return line[:end], masked[:end], line[end:].lstrip(" \t")


#: Options sshd accepts in authorized_keys (sshd(8), auth-options.c).
_KNOWN_OPTIONS = frozenset({
    "agent-forwarding", "cert-authority", "command", "environment", "expiry-time", "from",
    "no-agent-forwarding", "no-port-forwarding", "no-pty", "no-touch-required", "no-user-rc",
    "no-x11-forwarding", "permitlisten", "permitopen", "port-forwarding", "principals", "pty",
    "restrict", "touch-required", "tunnel", "user-rc", "verify-required", "x11-forwarding",
})  # fmt: skip


#: Most options one authorized_keys line may carry (sshd has no limit; real lines have a few).
MAX_OPTIONS = 256
#: One option: a name and an optional double-quoted value, matched on the masked text
#: (possessive: linear, no backtracking).
_OPTION_ITEM = _Lazy(r'([A-Za-z0-9_-]++)(?:="([^"]*+)")?+')


def _parse_options(text: str, masked: str) -> tuple[tuple[str, str | None], ...]:
    """Parse authorized_keys options as sshd does (``opt_dequote`` in auth-options.c).

    ``masked`` is ``text`` through :func:`_mask_escaped_quotes`. Each option is one
    regex match on it (values scanned in C, one character class); at most
    :data:`MAX_OPTIONS` options are read, so the work is linear in the text.
    """
    out: list[tuple[str, str | None]] = []
    pos, n = 0, len(text)
    while True:
        if len(out) == MAX_OPTIONS:
            raise KeyFormatError(f"more than {MAX_OPTIONS} authorized_keys options on one line")
        m = _OPTION_ITEM.match(masked, pos)
        if m is None:
            raise KeyFormatError("malformed authorized_keys options")
        name = m.group(1).lower()
        if name not in _KNOWN_OPTIONS:
            raise KeyFormatError(f"unknown authorized_keys option {_safe(name)}")
        pos = m.end()
        value = None if m.start(2) < 0 else text[m.start(2) : m.end(2)]
        if value is None and pos < n and text[pos] == "=":
            if pos + 1 >= n or text[pos + 1] != '"':
                raise KeyFormatError(f"option {name} value must be in double quotes")
            raise KeyFormatError(f"option {name} is missing its closing quote")
        out.append((name, None if value is None else value.replace('\\"', '"')))
        if pos == n:
            return tuple(out)
        if text[pos] != ",":
            raise KeyFormatError("malformed authorized_keys options")
        pos += 1


#: RFC 4716 header lines (a header continued with "\\" counts each line) one key may carry.
MAX_RFC4716_HEADER_LINES = 256
_RFC4716_END = _Lazy(r"(?m)^[ \t\r]*---- END SSH2 PUBLIC KEY ----")
_LINE_BREAKS = _Lazy(r"[ \t\r]*\n[ \t\r]*")


def _parse_rfc4716(text: str, pos: int, lineno: int) -> tuple[SSHPublicKey, int]:
    """Parse the RFC 4716 block whose BEGIN line ends at ``pos``; return (key, position after END).

    Headers are read line by line (at most :data:`MAX_RFC4716_HEADER_LINES`); the
    body is joined in C, so a long block costs linear time.
    """
    end = _RFC4716_END.search(text, pos)
    if end is None:
        raise KeyFormatError(f"line {lineno}: RFC 4716 key has no END line")
    block = text[pos : end.start()]
    comment: str | None = None
    header: list[str] = []  # the lines of one header continued with "\\" (joined once: linear)
    cur, lines = 1, 0  # the block starts with the newline that ends the BEGIN line
    while cur < len(block):
        nl = block.find("\n", cur)
        nl = len(block) if nl < 0 else nl
        line = block[cur:nl].strip(" \t\r")
        if not header and ":" not in line:
            break  # the body starts here
        lines += 1
        if lines > MAX_RFC4716_HEADER_LINES:
            raise KeyFormatError(
                f"line {lineno}: RFC 4716 key has more than {MAX_RFC4716_HEADER_LINES} header lines"
            )
        cur = nl + 1
        if line.endswith("\\"):
            header.append(line[:-1])
            continue
        header.append(line)
        tag, _, value = "".join(header).partition(":")
        value = value.strip()
        if tag.strip().lower() == "comment":
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            comment = value or None
        header = []
    body = _LINE_BREAKS.sub("", block[cur:]).strip(" \t\r") if cur < len(block) else ""
    try:
        key = _parse_blob(_b64decode(body), comment=comment)
    except KeyFormatError as exc:
        raise type(exc)(f"line {lineno}: {exc}") from exc
    return key, end.end()


# --------------------------------------------------------------------------- renderers


def render_openssh(key: SSHPublicKey) -> str:
    """Return ``type base64``, the OpenSSH public key text (no comment, no options)."""
    return f"{key.algorithm} {binascii.b2a_base64(key.material, newline=False).decode('ascii')}"


_PRINCIPAL_CHARS = _ALNUM | frozenset("._@+:/=~-")  # [A-Za-z0-9._@+:/=~-]{1,255}
_HOST_PATTERN = _Lazy(
    r"!?(?:\[[A-Za-z0-9.:%*?_-]+\]:[0-9]{1,5}|[A-Za-z0-9.:%*?_-]+)\Z"
    r"|\|1\|[A-Za-z0-9+/]+=*\|[A-Za-z0-9+/]+=*\Z"
)


def _render_comment(comment: str | None) -> str:
    if comment is None:
        return ""
    from registry.names import parse_name

    return " " + parse_name(comment).text


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
    opts: list[str] = []
    if cert_authority:
        if key.certificate is not None:
            raise KeyFormatError("cert-authority needs a plain CA key, not a certificate")
        opts.append("cert-authority")
    names = [principals] if isinstance(principals, str) else list(principals)
    if names:
        for p in names:
            if not isinstance(p, str) or not 0 < len(p) <= 255 \
                    or not _PRINCIPAL_CHARS.issuperset(p):
                raise InvalidName(
                    f"invalid principal {p!r}: use letters, digits and ._@+:/=~- only"
                )
        opts.append(f'principals="{",".join(names)}"')
    if expiry is not None:
        if not isinstance(expiry, datetime) or expiry.utcoffset() is None:
            raise KeyFormatError("expiry must be a timezone-aware datetime")
        opts.append(f'expiry-time="{expiry.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")}"')
    prefix = ",".join(opts) + " " if opts else ""
    return prefix + render_openssh(key) + _render_comment(comment)


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
    return f"{prefix}{','.join(patterns)} {render_openssh(key)}{_render_comment(comment)}"
