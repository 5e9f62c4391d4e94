"""Web Key Directory (draft-koch-openpgp-webkey-service): z-base-32, the WKD hash, URL paths.

    wkd_hash("Joe.Doe")                      # 'iy9q119eutrkn8s1mk4r39qejnbu3n5q'
    wkd_path("joe.doe@example.org", advanced=True)

Pure and stdlib only. The hash is z-base-32 of SHA-1 over the lower-cased
local part (always 32 characters); the direct method serves
``/.well-known/openpgpkey/hu/<hash>?l=<local>`` on the mail domain itself, the
advanced method ``/.well-known/openpgpkey/<domain>/hu/<hash>?l=<local>`` on
``openpgpkey.<domain>``. The gateway matches a request by hash and domain, and
checks ``l=`` against the local part when the client sends it.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

__all__ = [
    "ZBASE32_ALPHABET",
    "split_email",
    "wkd_hash",
    "wkd_path",
    "wkd_url",
    "zbase32_encode",
]

#: The z-base-32 alphabet (Zooko's human-oriented base-32).
ZBASE32_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"

#: What a WKD hash looks like: 32 z-base-32 characters.
HASH_RE = re.compile(r"\A[ybndrfg8ejkmcpqxot1uwisza345h769]{32}\Z")


def zbase32_encode(data: bytes) -> str:
    """z-base-32 of ``data``, 5 bits per character, the last group zero-padded (no padding chars)."""
    bits = int.from_bytes(data, "big")
    nbits = len(data) * 8
    out = []
    for shift in range(nbits - 5, -5, -5):
        value = (bits >> shift) & 0x1F if shift >= 0 else (bits << -shift) & 0x1F
        out.append(ZBASE32_ALPHABET[value])
    return "".join(out)


def wkd_hash(local_part: str) -> str:
    """The WKD hash of a local part: z-base-32(SHA-1(lower-case(local_part)))."""
    return zbase32_encode(hashlib.sha1(local_part.lower().encode("utf-8")).digest())


def split_email(email: str) -> tuple[str, str]:
    """``(local, domain)`` of an address (domain lower-cased).

    Raises:
        ValueError: not ``local@domain`` with both parts non-empty.
    """
    local, sep, domain = email.rpartition("@")
    if not sep or not local or not domain:
        raise ValueError(f"not an email address: {email!r}")
    return local, domain.lower()


def wkd_path(email: str, *, advanced: bool = False) -> str:
    """The path and query a WKD client asks for ``email`` (direct method by default).

    Raises:
        ValueError: ``email`` is not an address.
    """
    local, domain = split_email(email)
    prefix = f"/.well-known/openpgpkey/{domain}/hu/" if advanced else "/.well-known/openpgpkey/hu/"
    return f"{prefix}{wkd_hash(local)}?l={quote(local, safe='')}"


def wkd_url(email: str, *, advanced: bool = False) -> str:
    """The full https URL (``openpgpkey.<domain>`` host for the advanced method).

    Raises:
        ValueError: ``email`` is not an address.
    """
    _, domain = split_email(email)
    host = f"openpgpkey.{domain}" if advanced else domain
    return f"https://{host}{wkd_path(email, advanced=advanced)}"
