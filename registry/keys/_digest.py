"""The key layer's constants and SSH fingerprint text, importing nothing heavy (sshd path).

    >>> sha256_b64(b"")
    'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU'

:mod:`hashlib` loads OpenSSL (~6 ms on every ``keyanchor-ssh`` login); the
interpreter's built-in SHA-256 module (``_sha2`` in 3.12+, ``_sha256`` in
3.11) gives the same digest for a fraction of that, with :mod:`hashlib` as the
fallback on an interpreter built without it. :mod:`registry.keys._common`
re-exports both names.
"""

from __future__ import annotations

import binascii
import sys

if sys.version_info >= (3, 12):  # the built-in module (no OpenSSL); a failed import costs too
    try:
        from _sha2 import sha256 as _sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - an interpreter built without it
        from hashlib import sha256 as _sha256
else:
    try:
        from _sha256 import sha256 as _sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - an interpreter built without it
        from hashlib import sha256 as _sha256  # type: ignore[assignment,unused-ignore]

__all__ = ["MAX_MATERIAL", "sha256_b64"]

#: Largest canonical material the contract accepts (bytes); parsers refuse larger input early.
MAX_MATERIAL = 12288


def sha256_b64(data: bytes) -> str:
    """``SHA256:`` fingerprint text as ``ssh-keygen -l -E sha256`` prints it."""
    return "SHA256:" + binascii.b2a_base64(_sha256(data).digest(), newline=False).decode(
        "ascii").rstrip("=")
