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

#: Each line: a module, then the names it provides (parsed on the first lookup: a dict
#: display of every name costs compile time on sshd's login when no bytecode is cached).
_LAZY_TEXT = """
_digest MAX_MATERIAL sha256_b64
_common Key KeyType Purpose commitment
_files load_key_file load_key_files read_key_file
_load load_key load_keys load_material detect_key_type
_ssh SSHPublicKey SSHCertificate load_ssh_blob render_authorized_key render_known_hosts_line render_openssh
_ssh_text load_ssh_public_key load_ssh_public_keys
_openpgp OpenPGPCertificate UserID Subkey load_openpgp_cert load_openpgp_certs render_openpgp_armor render_openpgp_binary
_pgp_revocation OpenPGPRevocation verify_openpgp_revocation merge_openpgp_revocation
_x509 X509Certificate load_x509_certificate load_x509_chain load_x509_der render_pem render_der
"""

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
    for line in _LAZY_TEXT.strip().split("\n"):
        module, *names = line.split()
        if name in names:
            break
    else:
        raise AttributeError(f"module 'registry.keys' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"registry.keys.{module}"), name)
    globals()[name] = value
    return value
