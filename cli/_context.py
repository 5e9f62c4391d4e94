"""What chain commands share: the ``--network`` option, opening a Registry, times, prompts.

    with open_registry(network) as reg:
        reg.register("example.org")

The network comes from ``--network`` > ``KEYANCHOR_RPC_URL`` / ``KEYANCHOR_NETWORK`` >
the config file > the embedded chain (see :mod:`registry.config`). The signing
account is ``KEYANCHOR_PRIVATE_KEY``, else the configured keystore (password from
``KEYANCHOR_PASSWORD`` or a hidden prompt), else -- on the embedded chain only --
development account 0. This module imports only typer and the config at import
time; web3 and friends load inside the functions.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # pragma: no cover
    from registry.chain.client import Registry
    from registry.config import Config, Network

__all__ = [
    "JsonOpt",
    "NetworkOpt",
    "ask_new_password",
    "load_cfg",
    "open_registry",
    "parse_time",
    "say",
    "tx_summary",
]

NetworkOpt = Annotated[
    str | None,
    typer.Option("--network", "-N", help="Network from the config (default: the configured one, "
                 "else the embedded chain).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

#: Ether sent from development account 0 to a keystore account with no funds on the embedded chain.
EMBEDDED_FUNDING_WEI = 100 * 10**18


def load_cfg() -> Config:
    from registry.config import load_config

    return load_config()


def say(text: str) -> None:
    """A progress / notice line on stderr (stdout stays clean for data)."""
    sys.stderr.write(text + "\n")


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


# --------------------------------------------------------------------------- accounts


def _signing_account(cfg: Config, *, required: bool) -> Any:
    """KEYANCHOR_PRIVATE_KEY > configured keystore > None (caller decides)."""
    from registry.chain.accounts import account_from_env, load_keystore

    account = account_from_env()
    if account is not None:
        return account
    keystore = cfg.keystore()
    if keystore is not None and required:
        return load_keystore(keystore, prompt=_prompt_password)
    return None


def _fund_on_embedded(w3: Any, dev: Any, address: str) -> None:
    """Give a fresh keystore account some development ether (embedded chain only)."""
    if int(w3.eth.get_balance(address)) > 0:
        return
    block = w3.eth.get_block("latest")
    base = int(block.get("baseFeePerGas") or 10**9)
    tx = {
        "to": address, "value": EMBEDDED_FUNDING_WEI, "gas": 21_000,
        "nonce": int(w3.eth.get_transaction_count(dev.address, "pending")),
        "chainId": int(w3.eth.chain_id), "maxFeePerGas": base * 2 + 10**9,
        "maxPriorityFeePerGas": 10**9, "type": 2,
    }
    signed = dev.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    say(f"funded {address} with {EMBEDDED_FUNDING_WEI // 10**18} ETH from development "
        "account 0 (embedded chain)")


# --------------------------------------------------------------------------- registry


def _dev_account0() -> Any:
    from registry.chain.embedded import dev_accounts

    return dev_accounts()[0]


def _open_embedded(state: Any, signer: Any) -> Registry:
    """The embedded chain's Registry, signed by ``signer`` (None: development account 0).

    Like :meth:`Registry.embedded`, it goes through the devnet when one serves the file.
    """
    from registry.chain.client import Registry

    return Registry.embedded(state, account=signer)


def resolve_network(cfg: Config, network: str | None) -> Network:
    return cfg.network(network)


@contextmanager
def open_registry(
    network: str | None,
    *,
    account: bool = True,
    need_registry: bool = True,
    cfg: Config | None = None,
) -> Iterator[Registry]:
    """Open the Registry of ``network`` (closed on exit).

    ``account=False`` opens it read-only on a remote network (no keystore asked).

    Raises: ConfigError, AccountError, ChainUnavailable, WrongChain, RegistryNotFound, ChainError.
    """
    from registry.chain.client import Registry
    from registry.errors import AccountError, Error

    cfg = cfg or load_cfg()
    net = cfg.network(network)
    if net.embedded:
        signer = _signing_account(cfg, required=account)
        reg = _open_embedded(net.state, signer)
        if signer is not None and account:
            try:
                _fund_on_embedded(reg.w3, _dev_account0(), signer.address)
            except Error as exc:
                reg.close()
                raise exc
            except Exception as exc:  # the funding is a convenience; say why it failed
                say(f"could not fund {signer.address} on the embedded chain: {exc}")
    else:
        assert net.url is not None
        signer = _signing_account(cfg, required=account)
        if account and signer is None:
            raise AccountError(
                f"network {net.name} needs an account: create one with 'keyanchor account new'"
                " (or import one), or set KEYANCHOR_PRIVATE_KEY"
            )
        if need_registry and not net.registry:
            from registry.errors import RegistryNotFound

            raise RegistryNotFound(
                f"network {net.name} has no registry address: run 'keyanchor deploy --network "
                f"{net.name}' or 'keyanchor network add {net.name} URL --registry ADDR'"
            )
        reg = Registry.connect(list(net.endpoints), account=signer,
                               registry_address=net.registry, chain_id=net.chain_id,
                               quorum=net.quorum, trust_tag=net.trust)
    try:
        yield reg
    finally:
        reg.close()


def tx_summary(result: Any) -> dict[str, Any]:
    """A TxResult as JSON-ready fields."""
    out = result.to_dict() if hasattr(result, "to_dict") else {}
    return {k: v for k, v in out.items() if v is not None}


# --------------------------------------------------------------------------- times

_RELATIVE = re.compile(r"\+(\d+)([smhdwy])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


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
        return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
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
