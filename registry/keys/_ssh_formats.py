"""The SSH key formats: every plain key type's fields and the readers only they use.

    fmt = FORMATS["ssh-rsa"]   # fields (e, n), each read as an mpint; checked by its kind

:mod:`registry.keys._ssh_wire` reads ``ssh-ed25519`` itself (the key type
nearly every record holds) and loads this table for any other type, so a
login with Ed25519 keys does not compile it when no bytecode is cached
(docs/BENCHMARKS.md). :mod:`registry.keys._ssh` parses every type with it.
"""

from __future__ import annotations

from registry._errors_core import KeyFormatError
from registry.keys._ssh_wire import _ED25519, _Format, _get_bytes, _get_sshstr

__all__ = ["FORMATS"]


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


_ED = (("pk", _get_bytes),)
_EC = (("curve", _get_text), ("point", _get_bytes))
_APP = (("application", _get_text),)

#: Every plain key type keyanchor reads: its fields, in order, and its check's kind.
FORMATS: dict[str, _Format] = {
    **_ED25519,
    "sk-ssh-ed25519@openssh.com": _Format(_ED + _APP, "ed25519"),
    "ecdsa-sha2-nistp256": _Format(_EC, "ecdsa"),
    "ecdsa-sha2-nistp384": _Format(_EC, "ecdsa"),
    "ecdsa-sha2-nistp521": _Format(_EC, "ecdsa"),
    "sk-ecdsa-sha2-nistp256@openssh.com": _Format(_EC + _APP, "ecdsa"),
    "ssh-rsa": _Format((("e", _get_mpint), ("n", _get_mpint)), "rsa"),
    "ssh-dss": _Format(tuple((k, _get_mpint) for k in "pqgy"), "dsa"),
}
