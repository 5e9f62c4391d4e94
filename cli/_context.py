"""What commands share: the ``--network`` option, the signing account, opening the chain, times.

    with open_reader(network) as reader:      # reads: no account, no keystore decrypted
        records = reader.lookup("alice@example.org")
    with open_registry(network) as reg:       # writes: the signing account, named on stderr
        reg.register("example.org")

The network comes from ``--network`` > ``KEYANCHOR_RPC_URL`` / ``KEYANCHOR_NETWORK`` >
the config file > the embedded chain (see :mod:`registry.config`). The signing
account is ``KEYANCHOR_PRIVATE_KEY``, else the configured keystore (password from
``KEYANCHOR_PASSWORD`` or a hidden prompt), else -- on the embedded chain only --
its built-in account (development account 0). Reads on the embedded chain go to
:class:`registry.chain.reader.EmbeddedReader` (the file alone: no py-evm, no
web3) whenever it can answer. This module imports only typer and the config at
import time.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # pragma: no cover
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

    from registry.chain.client import Registry
    from registry.chain.reader import EmbeddedReader
    from registry.config import Config, Network

    Reader = Registry | EmbeddedReader

__all__ = [
    "BUILTIN",
    "JsonOpt",
    "NetworkOpt",
    "Signer",
    "ask_new_password",
    "current_signer",
    "load_cfg",
    "open_reader",
    "open_registry",
    "parse_time",
    "say",
    "signed_by",
]

NetworkOpt = Annotated[
    str | None,
    typer.Option("--network", "-N", metavar="NAME", show_default=False,
                 help="Network from the config (default: the configured one, else the embedded"
                      " chain)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

#: The signer of the registry open_registry() is yielding (for signed_by()).
_SIGNER: ContextVar[Signer | None] = ContextVar("keyanchor_signer", default=None)
#: The name ``account list`` / ``account use`` give the embedded chain's built-in account.
BUILTIN = "builtin"
#: Ether sent from the built-in account to a keystore account with no funds on the embedded chain.
EMBEDDED_FUNDING_WEI = 100 * 10**18


def load_cfg() -> Config:
    from registry.config import load_config

    return load_config()


def say(text: str) -> None:
    """A notice line on stderr (stdout stays clean for data)."""
    sys.stderr.write(text + "\n")


def save_cfg(cfg: Config) -> None:
    """Save the config file; say where its old text went when comments could not be kept."""
    from registry.config import save_config

    backup = save_config(cfg)
    if backup is not None:
        say(f"note: {cfg.path} is rewritten without its comments; the previous file is"
            f" kept as {backup}")


# --------------------------------------------------------------------------- passwords


def _prompt_password(path: str) -> str:
    if not sys.stdin.isatty():
        from registry.errors import AccountError

        raise AccountError(
            f"keystore {path} needs a password: set KEYANCHOR_PASSWORD (no terminal to ask on)"
        )
    return str(typer.prompt(f"Password for {path}", hide_input=True))


def ask_new_password() -> str:
    """A new keystore password: ``KEYANCHOR_PASSWORD``, else asked twice (hidden)."""
    from registry.errors import AccountError

    env = os.environ.get("KEYANCHOR_PASSWORD")
    if env is not None:
        if not env:
            raise AccountError("KEYANCHOR_PASSWORD is empty: a keystore needs a password")
        return env
    if not sys.stdin.isatty():
        raise AccountError("set KEYANCHOR_PASSWORD, or run in a terminal to be asked")
    value = str(typer.prompt("New keystore password", hide_input=True, confirmation_prompt=True))
    if not value:
        raise AccountError("a keystore needs a non-empty password")
    return value


# --------------------------------------------------------------------------- the signer


@dataclass(frozen=True)
class Signer:
    """Which account signs on a network, known without decrypting anything."""

    address: str
    source: str  # "env", "keystore" or "builtin"
    keystore: Path | None = None

    @property
    def label(self) -> str:
        if self.source == "builtin":
            return "the embedded chain's built-in account"
        if self.source == "env":
            return "KEYANCHOR_PRIVATE_KEY"
        return f"keystore {self.keystore}"

    def describe(self) -> str:
        return f"{self.address} ({self.label})"


def builtin_address() -> str:
    from registry.chain.embedded import _DEV_ADDRESSES

    return _DEV_ADDRESSES[0]


def current_signer(cfg: Config, net: Network) -> Signer | None:
    """The account that signs on ``net``: ``KEYANCHOR_PRIVATE_KEY`` > the configured
    keystore > the built-in account (embedded chain only) > none.

    Raises: AccountError (a bad KEYANCHOR_PRIVATE_KEY or keystore file).
    """
    from registry.chain.accounts import address_from_env, keystore_address

    env_address = address_from_env()
    if env_address is not None:
        return Signer(env_address, "env")
    keystore = cfg.keystore()
    if keystore is not None:
        return Signer(keystore_address(keystore), "keystore", keystore)
    if net.embedded:
        return Signer(builtin_address(), "builtin")
    return None


def _load_signer(signer: Signer) -> LocalAccount:
    from registry.chain.accounts import account_from_env, load_keystore

    if signer.source == "env":
        account = account_from_env()
        assert account is not None
        return account
    if signer.source == "keystore":
        assert signer.keystore is not None
        return load_keystore(signer.keystore, prompt=_prompt_password)
    from registry.chain.embedded import dev_accounts

    return dev_accounts()[0]


def _fund_on_embedded(w3: Web3, dev: LocalAccount, address: str) -> None:
    """Give a keystore account some development ether (embedded chain only)."""
    if int(w3.eth.get_balance(address)) > 0:  # type: ignore[arg-type]
        return
    block = w3.eth.get_block("latest")
    base = int(block.get("baseFeePerGas") or 10**9)
    tx: Any = {
        "to": address, "value": EMBEDDED_FUNDING_WEI, "gas": 21_000,
        "nonce": int(w3.eth.get_transaction_count(dev.address, "pending")),
        "chainId": int(w3.eth.chain_id), "maxFeePerGas": base * 2 + 10**9,
        "maxPriorityFeePerGas": 10**9, "type": 2,
    }
    signed = dev.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    say(f"funded {address} with {EMBEDDED_FUNDING_WEI // 10**18} ETH from the built-in account"
        " (embedded chain)")


# --------------------------------------------------------------------------- opening


@contextmanager
def open_registry(
    network: str | None,
    *,
    account: bool = True,
    need_registry: bool = True,
    cfg: Config | None = None,
) -> Iterator[Registry]:
    """The Registry of ``network``, signing with the current account (closed on exit).

    The signing account is named on stderr. ``account=False`` opens it without
    one (nothing decrypted).

    Raises: ConfigError, AccountError, ChainUnavailable, WrongChain, RegistryNotFound, ChainError.
    """
    from registry.chain.client import Registry
    from registry.errors import AccountError, Error, RegistryNotFound

    cfg = cfg or load_cfg()
    net = cfg.network(network)
    signer = current_signer(cfg, net) if account else None
    if account and signer is None:
        raise AccountError(
            f"network {net.name} needs an account: create one with 'keyanchor account new'"
            " (or import one), or set KEYANCHOR_PRIVATE_KEY")
    loaded = _load_signer(signer) if signer is not None else None
    if net.embedded:
        reg = Registry.embedded(net.state, account=loaded)
        if signer is not None and loaded is not None and signer.source != "builtin":
            try:
                _fund_on_embedded(reg.w3, _load_signer(Signer(builtin_address(), "builtin")),
                                  loaded.address)
            except Error as exc:
                reg.close()
                raise exc
            except Exception as exc:  # the funding is a convenience; say why it failed
                say(f"could not fund {loaded.address} on the embedded chain: {exc}")
    else:
        assert net.url is not None
        if need_registry and not net.registry:
            raise RegistryNotFound(
                f"network {net.name} has no registry address: run 'keyanchor deploy --network "
                f"{net.name}' or 'keyanchor network add {net.name} URL --registry ADDRESS'")
        # deploy (need_registry=False) makes a new registry: the saved address is not
        # opened, so a node restarted without its state (no contract there) can be redeployed
        reg = Registry.connect(list(net.endpoints), account=loaded,
                               registry_address=net.registry if need_registry else None,
                               chain_id=net.chain_id,
                               quorum=net.quorum, trust_tag=net.trust)
    token = _SIGNER.set(signer)
    try:
        yield reg
    finally:
        _SIGNER.reset(token)
        reg.close()


def signed_by() -> str:
    """``signed by 0x… (whose)`` for the account of the open registry (``""`` when none).

    Write commands end their line with it, so a user always sees which account signed.
    """
    signer = _SIGNER.get()
    return f"signed by {signer.describe()}" if signer is not None else ""


@contextmanager
def open_reader(network: str | None, *, cfg: Config | None = None) -> Iterator[Reader]:
    """What read commands use: the embedded chain's file reader when it can answer,
    else a Registry with no account (closed on exit). Nothing is decrypted.

    Raises: ConfigError, ChainUnavailable, WrongChain, RegistryNotFound, ChainError.
    """
    cfg = cfg or load_cfg()
    net = cfg.network(network)
    if net.embedded:
        from registry.chain.reader import EmbeddedReader

        reader = EmbeddedReader.open(net.state)
        if reader is not None:
            try:
                yield reader
            finally:
                reader.close()
            return
    with open_registry(network, account=False, cfg=cfg) as reg:
        yield reg


# --------------------------------------------------------------------------- times

_RELATIVE = re.compile(r"\+(\d+)([smhdwy])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def check_policy_options(policy: Path | None, profile: str | None) -> None:
    """Refuse a missing or invalid --policy file and an unknown --profile up front.

    They used to be resolved only while judging a record, so for a name with no
    records a misspelt profile went unnoticed ("no key records", exit 0).

    Raises: ConfigError.
    """
    from registry.errors import ConfigError
    from registry.policy.profiles import builtin_policy, load_policy

    if policy is not None and not policy.is_file():
        raise ConfigError(f"{policy}: no such policy file")
    if profile is not None:
        builtin_policy(profile)
    if policy is not None:
        load_policy(policy)


def finite_seconds(value: float | None) -> float | None:
    """A typer callback: NaN and infinity pass click's range checks; refuse them (exit 2)."""
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number of seconds")
    return value


def parse_time(value: str | None, *, what: str = "time") -> datetime | None:
    """``2026-01-31``, ``2026-01-31T12:00:00Z``, ``+90d``, ``+1y``, ``+12h``, ``now`` -> UTC.

    Raises:
        typer.BadParameter: anything else (a usage error, exit 2).
    """
    if value is None or value == "":
        return None
    text = value.strip()
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0)
    match = _RELATIVE.match(text)
    if match:
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
        try:
            return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
        except OverflowError:  # past year 9999 (or timedelta's own limit)
            raise typer.BadParameter(f"{what} {value!r} is too far in the future") from None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{what} {value!r}: use an ISO 8601 date or time (2026-01-31, 2026-01-31T12:00Z)"
            " or a relative time (+90d, +12h, +1y)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
