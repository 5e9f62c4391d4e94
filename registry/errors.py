"""The one error tree of keyanchor.

Every public function raises only these (third-party failures are wrapped with
``raise ... from exc``). The CLI turns any :class:`Error` into one line on
stderr and exit code 1.

    try:
        key = load_key(data)
    except KeyFormatError as exc:
        print(f"error: {exc}")

Tree::

    Error
    ├── KeyFormatError (ValueError)        malformed or unsupported key material
    │   ├── PrivateKeyError                private key given where a public one belongs
    │   └── UnsupportedKeyType             well-formed, but a type keyanchor does not handle
    ├── InvalidName (ValueError)           a name that breaks the name grammar
    ├── ProofError                         proof of possession missing, malformed or invalid
    ├── PolicyViolation                    a key fails the policy (carries the report)
    ├── ConfigError                        bad configuration file, network or account setting
    ├── GatewayRequestError (ValueError)   an HTTP gateway request that cannot be answered (``status``)
    ├── KeyNotTrusted                      a peer's key (SSH host key, TLS certificate) is not
    │                                      published for its name, is revoked, or cannot be checked
    ├── AccountError                       keystore missing, wrong password, no account
    ├── ChainError                         anything that went wrong talking to a chain
    │   ├── ChainUnavailable               RPC endpoint unreachable or not answering
    │   ├── WrongChain                     chain id differs from the configured one
    │   ├── RegistryNotFound               no KeyRegistry code at the address
    │   ├── InsufficientFunds              the account cannot pay for the transaction
    │   ├── TransactionTimeout             no receipt within the timeout
    │   ├── VerificationError              the endpoint returned data that does not verify
    │   │   ├── QuorumError                fewer than k endpoints agree on a block
    │   │   └── HeadRegressed              the trusted head is below the index's proven head
    │   └── ContractRevert                 the contract refused; ``reason`` names why
    │       ├── NameNotFound               (also LookupError)
    │       ├── NameTaken
    │       ├── NotOwner (PermissionError)
    │       ├── KeyAlreadyActive
    │       └── KeyRevoked
    └── IndexError_ → IndexUnavailable     local index missing, corrupt or stale
"""

from __future__ import annotations

# The classes sshd's login raises are defined in registry._errors_core (the login
# compiles that module alone); they are these very objects, named registry.errors.X.
from registry._errors_core import (
    ConfigError,
    Error,
    IndexUnavailable,
    InvalidName,
    KeyFormatError,
    UnsupportedKeyType,
)
from registry._errors_core import (
    IndexError_ as IndexError_,  # not in __all__, as before
)

__all__ = [
    "AccountError",
    "ChainError",
    "ChainUnavailable",
    "ConfigError",
    "ContractRevert",
    "Error",
    "GatewayRequestError",
    "HeadRegressed",
    "IndexUnavailable",
    "InsufficientFunds",
    "InvalidName",
    "KeyAlreadyActive",
    "KeyFormatError",
    "KeyNotTrusted",
    "KeyRevoked",
    "NameNotFound",
    "NameTaken",
    "NotOwner",
    "PolicyViolation",
    "PrivateKeyError",
    "ProofError",
    "QuorumError",
    "RegistryNotFound",
    "TransactionTimeout",
    "UnsupportedKeyType",
    "VerificationError",
    "WrongChain",
]


class PrivateKeyError(KeyFormatError):
    """A private key was given where a public key belongs (the secret is never echoed)."""


class ProofError(Error):
    """A proof of possession is missing, malformed or does not verify."""


class PolicyViolation(Error):
    """A key fails the policy; ``report`` holds the full report when available."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class GatewayRequestError(Error, ValueError):
    """A gateway request that cannot be answered; ``status`` is the HTTP status to reply with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class KeyNotTrusted(Error):
    """A peer presented a key the registry does not vouch for under the name it claims.

    Raised by the integrations (paramiko, asyncssh, TLS) when a server's host key
    or certificate is not an active published record of the host, is revoked,
    or cannot be checked at all (missing or stale index: they fail closed).
    ``reason`` is the one-line explanation; the integrations also inherit their
    library's own exception (``paramiko.SSHException``,
    ``ssl.SSLCertVerificationError``) so callers can catch what they already do.
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class AccountError(Error):
    """Keystore missing or unreadable, wrong password, no account configured."""


class ChainError(Error):
    """Something went wrong talking to a chain."""


class ChainUnavailable(ChainError):
    """The RPC endpoint cannot be reached or does not answer."""


class WrongChain(ChainError):
    """The endpoint's chain id differs from the one configured for the network."""


class RegistryNotFound(ChainError):
    """No KeyRegistry contract at the configured address."""


class InsufficientFunds(ChainError):
    """The sending account cannot pay for the transaction."""


class TransactionTimeout(ChainError):
    """No receipt (or not enough confirmations) within the timeout."""


class VerificationError(ChainError):
    """Data from the endpoint does not verify (e.g. material does not hash to the commitment)."""


class QuorumError(VerificationError):
    """Fewer than k of a network's endpoints agree on a block (each one's answer is named)."""


class HeadRegressed(VerificationError):
    """The trusted head is below the block the index already proved, and no reorganisation
    is proven: the endpoints lag or lie; the index keeps what it holds."""


class ContractRevert(ChainError):
    """The contract refused the call; ``reason`` is the contract's revert reason."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class NameNotFound(ContractRevert, LookupError):
    """The name is not registered."""


class NameTaken(ContractRevert):
    """The name is already registered."""


class NotOwner(ContractRevert, PermissionError):
    """The account is neither the owner nor an approved operator of the name."""


class KeyAlreadyActive(ContractRevert):
    """The key is already published and active under this name."""


class KeyRevoked(ContractRevert):
    """The key was revoked under this name and can never come back."""
