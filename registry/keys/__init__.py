"""Key material: parse, canonicalise, fingerprint and render SSH, OpenPGP and X.509 keys.

    from registry.keys import load_key
    key = load_key(open("id_ed25519.pub", "rb").read()); print(key.fingerprint)

Pure layer: no network, no chain. Everything loads lazily, on first use, so
that ``import registry.keys`` costs nothing (sshd runs the lookup path on every
login and imports ``registry.keys._ssh`` alone).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (sshd path)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from registry.keys._common import MAX_MATERIAL, Key, KeyType, Purpose, commitment, sha256_b64
    from registry.keys._files import load_key_file, load_key_files, read_key_file
    from registry.keys._load import detect_key_type, load_key, load_keys, load_material
    from registry.keys._openpgp import (
        OpenPGPCertificate,
        Subkey,
        UserID,
        load_openpgp_cert,
        load_openpgp_certs,
        render_openpgp_armor,
        render_openpgp_binary,
    )
    from registry.keys._pgp_revocation import (
        OpenPGPRevocation,
        merge_openpgp_revocation,
        verify_openpgp_revocation,
    )
    from registry.keys._ssh import (
        SSHCertificate,
        SSHPublicKey,
        load_ssh_blob,
        render_authorized_key,
        render_known_hosts_line,
        render_openssh,
    )
    from registry.keys._ssh_text import load_ssh_public_key, load_ssh_public_keys
    from registry.keys._x509 import (
        X509Certificate,
        load_x509_certificate,
        load_x509_chain,
        load_x509_der,
        render_der,
        render_pem,
    )

_LAZY = {
    "MAX_MATERIAL": "_digest",
    "sha256_b64": "_digest",
    "Key": "_common",
    "KeyType": "_common",
    "Purpose": "_common",
    "commitment": "_common",
    "load_key_file": "_files",
    "load_key_files": "_files",
    "read_key_file": "_files",
    "load_key": "_load",
    "load_keys": "_load",
    "load_material": "_load",
    "detect_key_type": "_load",
    "SSHPublicKey": "_ssh",
    "SSHCertificate": "_ssh",
    "load_ssh_blob": "_ssh",
    "load_ssh_public_key": "_ssh_text",
    "load_ssh_public_keys": "_ssh_text",
    "render_authorized_key": "_ssh",
    "render_known_hosts_line": "_ssh",
    "render_openssh": "_ssh",
    "OpenPGPCertificate": "_openpgp",
    "UserID": "_openpgp",
    "Subkey": "_openpgp",
    "load_openpgp_cert": "_openpgp",
    "load_openpgp_certs": "_openpgp",
    "render_openpgp_armor": "_openpgp",
    "render_openpgp_binary": "_openpgp",
    "OpenPGPRevocation": "_pgp_revocation",
    "verify_openpgp_revocation": "_pgp_revocation",
    "merge_openpgp_revocation": "_pgp_revocation",
    "X509Certificate": "_x509",
    "load_x509_certificate": "_x509",
    "load_x509_chain": "_x509",
    "load_x509_der": "_x509",
    "render_pem": "_x509",
    "render_der": "_x509",
}

__all__ = [
    "MAX_MATERIAL",
    "Key",
    "KeyType",
    "OpenPGPCertificate",
    "OpenPGPRevocation",
    "Purpose",
    "SSHCertificate",
    "SSHPublicKey",
    "Subkey",
    "UserID",
    "X509Certificate",
    "commitment",
    "detect_key_type",
    "load_key",
    "load_key_file",
    "load_key_files",
    "load_keys",
    "load_material",
    "load_openpgp_cert",
    "load_openpgp_certs",
    "load_ssh_blob",
    "load_ssh_public_key",
    "load_ssh_public_keys",
    "load_x509_certificate",
    "load_x509_chain",
    "load_x509_der",
    "merge_openpgp_revocation",
    "read_key_file",
    "render_authorized_key",
    "render_der",
    "render_known_hosts_line",
    "render_openpgp_armor",
    "render_openpgp_binary",
    "render_openssh",
    "render_pem",
    "sha256_b64",
    "verify_openpgp_revocation",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'registry.keys' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"registry.keys.{module}"), name)
    globals()[name] = value
    return value
