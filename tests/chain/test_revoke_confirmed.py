"""A revocation is confirmed from the proven state, not from the endpoint's receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry.chain.records import RevocationReason, TxResult
from registry.errors import VerificationError
from registry.keys import KeyType
from registry.workflows import revoke_key
from tests.index.conftest import ed25519_blob


def test_a_revocation_the_endpoint_only_claims_is_not_reported_done(tmp_path: Path) -> None:
    """Hostile endpoint: it drops the revoking transaction and answers its receipt as mined
    (status 1, a block). `keyanchor key revoke` printed "revoked record 0 ..., block N"
    from that receipt while the (compromised) key stayed active. Now the record's status is
    proven at the trusted head once that head is at or past the receipt's block, and a
    record still active there is an error that says so."""
    from registry.chain.client import Registry

    reg = Registry.embedded(tmp_path / "chain.db")
    try:
        reg.register("example.org")
        reg.assign("alice@example.org", reg.account.address)
        reg.publish("alice@example.org", ed25519_blob(1), key_type=KeyType.SSH)
        reg.publish("alice@example.org", ed25519_blob(2), key_type=KeyType.SSH)

        def dropped(*_a: Any, **_k: Any) -> TxResult:  # the endpoint's fake receipt
            return TxResult(tx_hash=b"\x11" * 32, block_number=reg.w3.eth.block_number,
                            gas_used=50_000)

        honest = reg.revoke
        reg.revoke = dropped  # type: ignore[method-assign]
        with pytest.raises(VerificationError, match="still active"):
            revoke_key(reg, "alice@example.org", 0, reason="key-compromise")
        reg.revoke = honest  # type: ignore[method-assign]
        done = revoke_key(reg, "alice@example.org", 1, reason="key-compromise")
        assert done.index == 1 and done.tx is not None
        statuses = [r.status for r in reg.lookup("alice@example.org", include_revoked=True)]
        assert statuses == ["active", "revoked"]
    finally:
        reg.close()


def test_a_rotation_the_endpoint_only_claims_is_not_reported_done(tmp_path: Path) -> None:
    """The same for `key rotate`: the old record must be proven revoked."""
    from registry.chain.client import Registry
    from registry.keys._ssh import load_ssh_blob
    from registry.workflows import rotate_key

    reg = Registry.embedded(tmp_path / "chain.db")
    try:
        reg.register("example.org")
        reg.assign("alice@example.org", reg.account.address)
        reg.publish("alice@example.org", ed25519_blob(1), key_type=KeyType.SSH)
        new = load_ssh_blob(ed25519_blob(3))

        def dropped(*_a: Any, **_k: Any) -> TxResult:
            return TxResult(tx_hash=b"\x22" * 32, block_number=reg.w3.eth.block_number,
                            gas_used=90_000, index=1)

        reg.rotate = dropped  # type: ignore[method-assign]
        with pytest.raises(VerificationError, match="still active"):
            rotate_key(reg, "alice@example.org", 0, new, no_proof=True, profile=None)
    finally:
        reg.close()


def test_a_reclaim_the_endpoint_only_claims_is_not_reported_done(tmp_path: Path) -> None:
    """Offboarding through a hostile endpoint: it drops the reclaim and answers a receipt.
    `reclaim_name` proves the new owner at the trusted head instead of believing it; an
    honest reclaim with ``revoke_keys`` leaves nothing of the previous holder live."""
    from registry.chain.client import Registry
    from registry.workflows import reclaim_name

    reg = Registry.embedded(tmp_path / "chain.db")
    leaver = "0x" + "42" * 20
    try:
        reg.register("example.org")
        reg.assign("alice@example.org", reg.account.address)
        reg.publish("alice@example.org", ed25519_blob(1), key_type=KeyType.SSH)
        reg.publish("alice@example.org", ed25519_blob(2), key_type=KeyType.SSH)
        reg.transfer("alice@example.org", leaver)

        def dropped(*_a: Any, **_k: Any) -> TxResult:
            return TxResult(tx_hash=b"\x22" * 32, block_number=reg.w3.eth.block_number,
                            gas_used=40_000)

        honest = reg.reclaim
        reg.reclaim = dropped  # type: ignore[method-assign]
        with pytest.raises(VerificationError, match="transaction was dropped"):
            reclaim_name(reg, "alice@example.org", revoke_keys=True)
        assert reg.owner("alice@example.org").lower() == leaver  # nothing else was sent
        reg.reclaim = honest  # type: ignore[method-assign]

        kept = reclaim_name(reg, "alice@example.org")
        assert kept.revoked == () and kept.live == (0, 1)
        done = reclaim_name(reg, "alice@example.org", revoke_keys=True, reason="cessation-of-operation")
        assert [r.index for r in done.revoked] == [0, 1] and done.live == ()
        assert reg.owner("alice@example.org") == reg.account.address
        assert reg.lookup("alice@example.org") == []
        assert {r.reason for r in reg.lookup("alice@example.org", include_revoked=True)} \
            == {RevocationReason.CESSATION_OF_OPERATION}
    finally:
        reg.close()
