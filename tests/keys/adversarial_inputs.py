"""Adversarial key and signature inputs of at most 1 MiB: the class of input with super-linear cost.

Shared by ``tests/keys/test_adversarial.py`` (each input must fail with the
module's own error) and ``scripts/bench_keys_adversarial.py`` (worst-case time
and peak memory per input). Every generator is deterministic and returns the
input a hostile user would hand to a loader:

    >>> from tests.keys.adversarial_inputs import KEY_INPUTS
    >>> data = KEY_INPUTS["pem_begin_lines"]()

``KEY_INPUTS`` feed the key loaders (``registry.keys``); ``PROOF_INPUTS`` are
``(key type, proof bytes)`` pairs for ``registry.proofs.verify_proof``.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable

MIB = 1 << 20


def _fill(unit: bytes, head: bytes = b"", tail: bytes = b"", size: int = MIB) -> bytes:
    """``head`` + as many ``unit`` as fit + ``tail``, at most ``size`` bytes."""
    n = (size - len(head) - len(tail)) // len(unit)
    return head + unit * n + tail


def _s(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def _pgp_new(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 192:
        hdr = bytes([n])
    elif n < 8384:
        hdr = bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])
    else:
        hdr = b"\xff" + n.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + hdr + body


_ED_OID = bytes.fromhex("2b06010401da470f01")
#: A v4 Ed25519 public-key packet body (a fixed point; nothing here is ever verified).
_PGP_KEY_BODY = (b"\x04" + (1_700_000_000).to_bytes(4, "big") + bytes([22, len(_ED_OID)]) + _ED_OID
                 + (263).to_bytes(2, "big") + b"\x40" + bytes(range(32)))
_PGP_KEY = _pgp_new(6, _PGP_KEY_BODY)


def _ssh_cert_blob(n_ext: int, ext_value: bytes = b"") -> bytes:
    """An ssh-ed25519 user certificate blob with ``n_ext`` distinct extensions (junk signature)."""
    key = bytes(range(32))
    exts = b"".join(_s(f"x{i}@example.org".encode()) + _s(ext_value) for i in range(n_ext))
    return (_s(b"ssh-ed25519-cert-v01@openssh.com") + _s(b"\0" * 32) + _s(key)
            + struct.pack(">QI", 1, 1) + _s(b"id") + _s(_s(b"alice"))
            + struct.pack(">QQ", 0, 2**64 - 1) + _s(b"") + _s(exts) + _s(b"")
            + _s(_s(b"ssh-ed25519") + _s(key)) + _s(_s(b"ssh-ed25519") + _s(b"\0" * 64)))


def _ssh_cert_lines() -> bytes:
    """authorized_keys lines, each a ~12 KB certificate with 480 extensions, up to 1 MiB."""
    blob = _ssh_cert_blob(480)
    line = b"ssh-ed25519-cert-v01@openssh.com " + base64.b64encode(blob) + b"\n"
    return _fill(line)


def _ssh_many_principals() -> bytes:
    key = bytes(range(32))
    principals = b"".join(_s(b"p") for _ in range(2_300))
    blob = (_s(b"ssh-ed25519-cert-v01@openssh.com") + _s(b"\0" * 32) + _s(key)
            + struct.pack(">QI", 1, 1) + _s(b"id") + _s(principals)
            + struct.pack(">QQ", 0, 2**64 - 1) + _s(b"") + _s(b"") + _s(b"")
            + _s(_s(b"ssh-ed25519") + _s(key)) + _s(_s(b"ssh-ed25519") + _s(b"\0" * 64)))
    return _fill(b"ssh-ed25519-cert-v01@openssh.com " + base64.b64encode(blob) + b"\n")


def _der_nested() -> bytes:
    """SEQUENCE inside SEQUENCE ... (definite lengths), 1 MiB deep-ish: 0x30 0x84 <len> ..."""
    depth = MIB // 6 - 1
    out = bytearray()
    for i in range(depth):
        out += b"\x30\x84" + (6 * (depth - i - 1)).to_bytes(4, "big")
    return bytes(out)


def _pgp_armor(body: bytes, headers: bytes = b"") -> bytes:
    b64 = base64.encodebytes(body)
    return (b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n" + headers + b"\n" + b64
            + b"-----END PGP PUBLIC KEY BLOCK-----\n")


KEY_INPUTS: dict[str, Callable[[], bytes]] = {
    # PEM / X.509 text
    "pem_begin_lines": lambda: _fill(b"-----BEGIN CERTIFICATE-----\n"),
    "pem_begin_end_mismatch": lambda: _fill(b"-----BEGIN CERTIFICATE-----\n-----END X-----\n"),
    "pem_empty_blocks": lambda: _fill(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
    "pem_junk_blocks": lambda: _fill(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    "pem_label_run": lambda: _fill(b"A", b"-----BEGIN ", b"-----"),
    "pem_begin_no_dashes": lambda: _fill(b"-----BEGIN A"),
    "pem_many_headers": lambda: _fill(b"Proc-Type: 4,ENCRYPTED\n", b"-----BEGIN CERTIFICATE-----\n",
                                      b"-----END CERTIFICATE-----\n"),
    "der_nested_sequences": _der_nested,
    "der_long_length": lambda: b"\x30\x84\x00\x10\x00\x00" + b"\x00" * (MIB - 6),
    # SSH text
    "ssh_blank_lines": lambda: _fill(b"\n"),
    "ssh_comment_lines": lambda: _fill(b"#\n"),
    "ssh_crlf_lines": lambda: _fill(b"\r\n", b"x"),
    "ssh_one_long_line": lambda: _fill(b"A", b"ssh-ed25519 "),
    "ssh_unknown_type_line": lambda: _fill(b"A", b"x "),
    "ssh_option_commas": lambda: _fill(b"no-pty,", b"", b" ssh-ed25519 AAAA\n"),
    "ssh_option_quotes": lambda: _fill(b'\\"', b'command="', b'" ssh-ed25519 AAAA\n'),
    "ssh_option_unterminated": lambda: _fill(b'\\"', b'command="'),
    "ssh_many_bad_keys": lambda: _fill(b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n"),
    "rfc4716_continuations": lambda: _fill(b"x\\\n", b"---- BEGIN SSH2 PUBLIC KEY ----\nComment: ",
                                           b"\n---- END SSH2 PUBLIC KEY ----\n"),
    "rfc4716_headers": lambda: _fill(b"X-Header: value\n", b"---- BEGIN SSH2 PUBLIC KEY ----\n",
                                     b"---- END SSH2 PUBLIC KEY ----\n"),
    "rfc4716_no_end": lambda: _fill(b"AAAA\n", b"---- BEGIN SSH2 PUBLIC KEY ----\n"),
    "rfc4716_begin_lines": lambda: _fill(b"---- BEGIN SSH2 PUBLIC KEY ----\n"),
    "ssh_cert_many_extensions": _ssh_cert_lines,
    "ssh_cert_many_principals": _ssh_many_principals,
    # OpenPGP binary
    "pgp_empty_user_ids": lambda: _fill(b"\xcd\x00", _PGP_KEY),
    "pgp_marker_packets": lambda: _fill(b"\xca\x03PGP", _PGP_KEY),
    "pgp_empty_signatures": lambda: _fill(b"\xc2\x00", _PGP_KEY),
    "pgp_trust_packets": lambda: _fill(b"\xcc\x00", _PGP_KEY),
    "pgp_old_format_user_ids": lambda: _fill(b"\xb4\x00", _PGP_KEY),
    "pgp_public_keys": lambda: _fill(_PGP_KEY),
    "pgp_key_user_id_pairs": lambda: _fill(_PGP_KEY + _pgp_new(13, b"a@example.org")),
    "pgp_empty_subkeys": lambda: _fill(b"\xce\x00", _PGP_KEY),
    "pgp_partial_lengths": lambda: _fill(b"\xe0a", _PGP_KEY + b"\xcd"),
    "pgp_one_huge_user_id": lambda: _PGP_KEY + _pgp_new(13, b"a" * (MIB - 64)),
    # OpenPGP armor
    "pgp_armor_empty_user_ids": lambda: _pgp_armor(_fill(b"\xcd\x00", _PGP_KEY, size=MIB * 3 // 4 - 20_000)),
    "pgp_armor_many_headers": lambda: _fill(b"Comment: x\n", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
                                            b"\nmQ==\n-----END PGP PUBLIC KEY BLOCK-----\n"),
    "pgp_armor_begin_lines": lambda: _fill(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n"),
    "pgp_armor_empty_blocks": lambda: _fill(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
                                            b"-----END PGP PUBLIC KEY BLOCK-----\n"),
    "pgp_armor_blank_lines": lambda: _fill(b"\n", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
                                           b"-----END PGP PUBLIC KEY BLOCK-----\n"),
}


def _sshsig(body: bytes) -> bytes:
    return (b"-----BEGIN SSH SIGNATURE-----\n" + base64.encodebytes(body)
            + b"-----END SSH SIGNATURE-----\n")


PROOF_INPUTS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "sshsig_armor_blank_lines": ("ssh", lambda: _fill(b"\n", b"-----BEGIN SSH SIGNATURE-----\n")),
    "sshsig_armor_begin_lines": ("ssh", lambda: _fill(b"-----BEGIN SSH SIGNATURE-----\n")),
    "sshsig_huge_fields": ("ssh", lambda: _sshsig(b"SSHSIG" + struct.pack(">I", 1)
                                                  + _s(b"\0" * (MIB * 3 // 4 - 20_000)))),
    "sshsig_binary_junk": ("ssh", lambda: _fill(b"\xff", b"SSHSIG\0\0\0\1")),
    "pgp_sig_empty_packets": ("openpgp", lambda: _fill(b"\xc2\x00")),
    "pgp_sig_marker_packets": ("openpgp", lambda: _fill(b"\xca\x03PGP")),
    "pgp_sig_partial_lengths": ("openpgp", lambda: _fill(b"\xe0a", b"\xc2")),
    "pgp_sig_armor_headers": ("openpgp", lambda: _fill(b"Comment: x\n", b"-----BEGIN PGP SIGNATURE-----\n",
                                                       b"\n-----END PGP SIGNATURE-----\n")),
    "x509_sig_base64_lines": ("x509", lambda: _fill(b"AAAA\n")),
    "x509_sig_binary": ("x509", lambda: _fill(b"\x30")),
}

__all__ = ["KEY_INPUTS", "MIB", "PROOF_INPUTS"]
