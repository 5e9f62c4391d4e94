"""The chain layer: the only part of keyanchor that imports web3 and eth-*.

    from registry.chain import Registry
    with Registry.embedded() as reg: print(reg.lookup("alice@example.org"))

Names are exported lazily, so ``import registry.chain`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from registry.chain._deferred import defer_keyfile_bls

defer_keyfile_bls()  # eth-keyfile's BLS imports cost ~0.4 s and keyanchor never uses them

if TYPE_CHECKING:
    from registry.chain.accounts import (
        KeystoreInfo,
        account_from_env,
        import_private_key,
        list_keystores,
        load_account,
        load_keystore,
        new_keystore,
    )
    from registry.chain.client import PendingTx, PublishRequest, Registry
    from registry.chain.devnet import DevnetServer, serve
    from registry.chain.embedded import (
        CHAIN_ID,
        EmbeddedChain,
        default_state_path,
        dev_accounts,
        devnet_url_for,
    )
    from registry.chain.records import (
        Attestation,
        HistoryEvent,
        KeyRecord,
        RevocationReason,
        TxResult,
    )

__all__ = [
    "CHAIN_ID",
    "Attestation",
    "DevnetServer",
    "EmbeddedChain",
    "HistoryEvent",
    "KeyRecord",
    "KeystoreInfo",
    "PendingTx",
    "PublishRequest",
    "Registry",
    "RevocationReason",
    "TxResult",
    "account_from_env",
    "default_state_path",
    "dev_accounts",
    "devnet_url_for",
    "import_private_key",
    "list_keystores",
    "load_account",
    "load_keystore",
    "new_keystore",
    "serve",
]

_LAZY = {
    "Registry": "registry.chain.client",
    "PublishRequest": "registry.chain.client",
    "PendingTx": "registry.chain.client",
    "KeyRecord": "registry.chain.records",
    "Attestation": "registry.chain.records",
    "HistoryEvent": "registry.chain.records",
    "TxResult": "registry.chain.records",
    "RevocationReason": "registry.chain.records",
    "load_account": "registry.chain.accounts",
    "load_keystore": "registry.chain.accounts",
    "new_keystore": "registry.chain.accounts",
    "import_private_key": "registry.chain.accounts",
    "list_keystores": "registry.chain.accounts",
    "account_from_env": "registry.chain.accounts",
    "KeystoreInfo": "registry.chain.accounts",
    "CHAIN_ID": "registry.chain.embedded",
    "EmbeddedChain": "registry.chain.embedded",
    "devnet_url_for": "registry.chain.embedded",
    "default_state_path": "registry.chain.embedded",
    "dev_accounts": "registry.chain.embedded",
    "DevnetServer": "registry.chain.devnet",
    "serve": "registry.chain.devnet",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
