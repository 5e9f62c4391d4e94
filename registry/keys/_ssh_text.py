"""SSH key text: authorized_keys / ``.pub`` / RFC 4716 parsing, re-encoding, ``to_dict``.

    keys = load_ssh_public_keys(open("authorized_keys").read())

The half of :mod:`registry.keys._ssh` that sshd's AuthorizedKeysCommand never
runs (it reads blobs from the index and renders lines): the text parsers, the
re-encoder (the parser's round-trip check) and the JSON views of the records.
Kept apart so that the sshd path compiles less source when its bytecode is not
cached (docs/BENCHMARKS.md); :mod:`registry.keys` and :mod:`registry.keys._ssh`
hand these names out lazily, so ``from registry.keys import load_ssh_public_keys``
is unchanged.
"""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING, Any

from registry.errors import KeyFormatError, PrivateKeyError, UnsupportedKeyType
from registry.keys._digest import MAX_MATERIAL
from registry.keys._ssh import (
    _ALL_ALGORITHMS,
    _PRIVATE_MESSAGE,
    OptionValue,
    SSHCertificate,
    SSHPublicKey,
    _Lazy,
    _parse_blob,
    _safe,
    _sshstr,
)

if TYPE_CHECKING:
    from datetime import datetime

    from registry.keys._ssh_wire import _Params

__all__ = [
    "MAX_OPTIONS",
    "MAX_RFC4716_HEADER_LINES",
    "certificate_dict",
    "key_dict",
    "load_ssh_public_key",
    "load_ssh_public_keys",
]

# --------------------------------------------------------------------------- JSON views


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_value(value: OptionValue) -> str | None:
    return value.hex() if isinstance(value, bytes) else value


def key_dict(key: SSHPublicKey) -> dict[str, Any]:
    """``SSHPublicKey.to_dict()``: JSON-ready, bytes as hex, datetimes as ISO 8601 with ``Z``."""
    return {
        "key_type": "ssh",
        "algorithm": key.algorithm,
        "bits": key.bits,
        "fingerprint": key.fingerprint,
        "material": key.material.hex(),
        "commitment": key.commitment.hex(),
        "public_blob": key.public_blob.hex(),
        "curve": key.curve,
        "application": key.application,
        "identities": list(key.identities),
        "valid_from": _iso(key.valid_from),
        "valid_until": _iso(key.valid_until),
        "comment": key.comment,
        "options": [[k, v] for k, v in key.options],
        "certificate": key.certificate.to_dict() if key.certificate is not None else None,
    }


def certificate_dict(cert: SSHCertificate) -> dict[str, Any]:
    """``SSHCertificate.to_dict()``: JSON-ready, bytes as hex, datetimes as ISO 8601 with ``Z``."""
    return {
        "cert_type": cert.cert_type,
        "serial": cert.serial,
        "key_id": cert.key_id,
        "principals": list(cert.principals),
        "valid_after": cert.valid_after,
        "valid_before": cert.valid_before,
        "valid_from": _iso(cert.valid_from),
        "valid_until": _iso(cert.valid_until),
        "critical_options": [[k, _json_value(v)] for k, v in cert.critical_options],
        "extensions": [[k, _json_value(v)] for k, v in cert.extensions],
        "nonce": cert.nonce.hex(),
        "public_key": cert.public_key.material.hex(),
        "signature_key": {
            "algorithm": cert.signature_key.algorithm,
            "fingerprint": cert.signature_key.fingerprint,
            "material": cert.signature_key.material.hex(),
        },
        "signature_algorithm": cert.signature_algorithm,
    }


# --------------------------------------------------------------------------- re-encoder


def _mpint(value: int) -> bytes:
    if value == 0:
        return _sshstr(b"")
    return _sshstr(value.to_bytes(value.bit_length() // 8 + 1, "big"))


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


# --------------------------------------------------------------------------- text loaders


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

    # a byte-order mark (a .pub file saved by Windows Notepad) is no part of the first line
    return input_bytes(data, "SSH key").decode("utf-8", "replace").removeprefix("\ufeff")


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
