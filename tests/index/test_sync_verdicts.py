"""Verdicts computed by the worker process while a page is stored (registry.index._verdicts).

A page with many keys has its parse results and policy verdicts computed by a
worker process; the index must come out byte for byte as when sync computes
them itself (passing, lint-failing and unparsable keys, names the grammar
refuses, squatters), and a worker that fails must store nothing of the page.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from registry.index import IndexReader, Store, _sync, _verdicts, sync_index
from registry.keys import KeyType
from registry.names import raw_namehash
from tests.index.conftest import Chain, ed25519_blob, private_registry, raw_register
from tests.policy.conftest import ssh_rsa_blob

#: a 1024-bit modulus (ssh.rsa_bits fails it): two primes are not needed for the lint
RSA_1024 = (1 << 1023) | 0x10001


def _raw_publish(reg: Any, text: str, material: bytes, key_type: int = 1) -> None:
    """A publish straight through the contract (the client would refuse the material)."""
    reg.send("publish", [bytes(raw_namehash(text)), key_type, 1, 0, 0, material, b"", False],
             what=f"publish to {text}").wait()


@pytest.fixture(scope="module")
def mixed(embedded: Chain) -> Chain:
    """Keys of every verdict: pass, lint failures, unparsable material, an invalid name, a
    squatter (private registry beside the public one)."""
    from registry.chain.embedded import dev_accounts

    reg = embedded.reg
    me = reg.account.address
    reg.register("example.org")
    for i in range(6):
        reg.assign(f"u{i}@example.org", me)
        reg.publish(f"u{i}@example.org", ed25519_blob(i), key_type=KeyType.SSH,
                    purposes="ssh-user")
    _raw_publish(reg, "u0@example.org", ssh_rsa_blob(RSA_1024))  # fails ssh.rsa_bits
    _raw_publish(reg, "u1@example.org", b"\x00\x00\x00\x07ssh-rsa")  # does not parse
    _raw_publish(reg, "u2@example.org", b"not a certificate", key_type=KeyType.X509.value)
    raw_register(reg, "xn--zz.org")  # the grammar refuses it: its key fails
    _raw_publish(reg, "xn--zz.org", ed25519_blob(50))
    reg.revoke("u3@example.org", 0)
    admin, mallory = private_registry(reg, registrar=dev_accounts()[1])
    mallory.register("web1.corp.org")
    admin.register("corp.org")
    mallory.publish("web1.corp.org", ed25519_blob(61), key_type=KeyType.SSH, purposes="ssh-host")
    embedded.private = admin  # type: ignore[attr-defined]
    return embedded


def _synced(reg: Any, path: Path, monkeypatch: pytest.MonkeyPatch, *, worker: bool,
            **kw: Any) -> str:
    monkeypatch.setattr(_sync, "WORKER_MIN_KEYS", 1 if worker else 10**9)
    monkeypatch.setattr(_sync, "VERDICT_CHUNK", 2)  # several chunks a page
    started: list[Any] = []
    real = _verdicts.VerdictPool.__init__

    def counting(self: Any) -> None:
        started.append(self)
        real(self)

    monkeypatch.setattr(_verdicts.VerdictPool, "__init__", counting)
    sync_index(path, reg, **kw)
    assert bool(started) == worker
    with Store.open(path) as s:
        return s.digest()


@pytest.mark.parametrize("page_blocks", [1, 1000])
def test_the_worker_gives_the_index_sync_gives_alone(mixed: Chain, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     page_blocks: int) -> None:
    kw = {"page_blocks": page_blocks, "max_page_blocks": page_blocks}
    for reg in (mixed.reg, mixed.private):  # type: ignore[attr-defined]
        tag = reg.address[-6:]
        alone = _synced(reg, tmp_path / f"a{tag}.sqlite", monkeypatch, worker=False, **kw)
        pooled = _synced(reg, tmp_path / f"w{tag}.sqlite", monkeypatch, worker=True, **kw)
        assert pooled == alone
    with IndexReader.open(tmp_path / f"w{mixed.reg.address[-6:]}.sqlite") as ix:
        verdicts = {(str(n), int(i)): (str(p), str(d)) for n, i, p, d in ix.conn.execute(
            "SELECT n.name, r.idx, r.policy, t.text FROM records r JOIN names n"
            " ON n.id = r.name_id JOIN texts t ON t.id = r.policy_detail")}
    assert verdicts[("u0@example.org", 0)][0] == "pass"
    assert verdicts[("u0@example.org", 1)][0] == "fail"
    assert "ssh.rsa_bits" in verdicts[("u0@example.org", 1)][1]
    assert verdicts[("u1@example.org", 1)][0] == "fail"
    assert "does not parse" in verdicts[("u1@example.org", 1)][1]
    assert "does not parse" in verdicts[("u2@example.org", 1)][1]
    assert "not a valid registry name" in verdicts[("xn--zz.org", 0)][1]
    with IndexReader.open(tmp_path / f"w{mixed.private.address[-6:]}.sqlite") as ix:  # type: ignore[attr-defined]
        (squat,) = ix.records("web1.corp.org")
        assert squat.policy == "fail" and "binding.domain_chain" in squat.policy_detail


def _killing_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page's worker is killed before it gets its first jobs."""
    monkeypatch.setattr(_sync, "WORKER_MIN_KEYS", 1)
    real = _sync._Syncer.submit_guesses

    def dying(self: Any, jobs: Any) -> None:
        if self.pool is not None:
            self.pool._proc.kill()
            self.pool._proc.wait()
        real(self, jobs)

    monkeypatch.setattr(_sync._Syncer, "submit_guesses", dying)


def test_a_page_whose_worker_dies_is_stored_again_with_verdicts_computed_here(
        mixed: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _synced(mixed.reg, tmp_path / "ref.sqlite", monkeypatch, worker=False)
    _killing_the_worker(monkeypatch)
    path = tmp_path / "i.sqlite"
    res = sync_index(path, mixed.reg, page_blocks=1000, max_page_blocks=1000)
    assert res.pages == 1
    with Store.open(path) as s:
        assert s.digest() == reference


def test_a_page_whose_worker_dies_stores_nothing_of_that_attempt(
        mixed: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _killing_the_worker(monkeypatch)

    def broken(*job: Any) -> Any:
        raise RuntimeError("no verdicts here either")

    monkeypatch.setattr(_sync, "parsed_key", broken)  # the retry in this process fails too
    path = tmp_path / "i.sqlite"
    with pytest.raises(RuntimeError, match="no verdicts"):
        sync_index(path, mixed.reg, page_blocks=1000, max_page_blocks=1000)
    with Store.open(path) as s:  # neither attempt left anything of the page
        assert s.synced_block is None and s.proven_head() is None
        assert s.conn.execute("SELECT count(*) FROM records").fetchone()[0] == 0
        assert s.conn.execute("SELECT count(*) FROM names").fetchone()[0] == 0


def test_a_worker_that_cannot_start_leaves_the_verdicts_to_the_sync(
        mixed: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _synced(mixed.reg, tmp_path / "ref.sqlite", monkeypatch, worker=False)
    monkeypatch.setattr(_sync, "WORKER_MIN_KEYS", 1)
    monkeypatch.setattr(_verdicts.sys, "executable", str(tmp_path / "no-such-python"))
    path = tmp_path / "i.sqlite"
    sync_index(path, mixed.reg, page_blocks=1, max_page_blocks=1)
    with Store.open(path) as s:
        assert s.digest() == reference


def _frames(*values: Any) -> io.BytesIO:
    buf = io.BytesIO()
    for v in values:
        _verdicts._write(buf, v)
    buf.seek(0)
    return buf


def test_the_worker_loop_answers_in_order_and_reports_a_broken_job() -> None:
    job = (1, ed25519_blob(1), "alice@example.org", b"", None, 1, "0x" + "00" * 20, 1,
           "default", None, False)
    bad = (1, ed25519_blob(2))  # too few fields
    out = io.BytesIO()
    _verdicts.serve(_frames([job, job], [bad]), out)
    out.seek(0)
    first, second = _verdicts._read(out), _verdicts._read(out)
    assert _verdicts._read(out) is None
    assert first[0] == "ok" and len(first[1]) == 2
    assert first[1][0][3] == _verdicts.parsed_key(*job).policy
    assert tuple(first[1][0][1]) == _verdicts.parsed_key(*job).fingerprints
    assert second[0] == "error" and "TypeError" in second[1]


def test_the_worker_judges_the_name_when_sync_leaves_it() -> None:
    base = (1, ed25519_blob(1), "xn--zz.org", b"", None, 1, "0x" + "00" * 20, 1, "default")
    assert _verdicts.parsed_key(*base, None, False) == _verdicts.parsed_key(*base, False, False)
    good = (1, ed25519_blob(1), "alice@example.org", *base[3:])
    assert _verdicts.parsed_key(*good, None, False) == _verdicts.parsed_key(*good, True, False)
    # the worker's own grammar check says what the index's valid_name says
    from registry.index._open import valid_name

    for name in ("alice@example.org", "Alice@example.org", "example.org.", "1.2.3.4", "a..b",
                 "bücher.de", "xn--bcher-kva.de", "ops.example.org", "", "@example.org"):
        job = (1, ed25519_blob(1), name, *base[3:])
        assert _verdicts.verdict(*job, None, False) == _verdicts.verdict(
            *job, valid_name(name), False), name


def _log(block: int) -> dict[str, str]:
    return {"blockNumber": hex(block)}


def test_a_crowded_reply_keeps_its_first_whole_blocks() -> None:
    raw = [_log(b) for b in (5, 5, 6, 6, 6, 7, 8)]
    kept, end = _sync._first_blocks(raw, 4, 5, 9)  # log 4 is in block 6: blocks 5 only
    assert (kept, end) == (raw[:2], 5)
    kept, end = _sync._first_blocks(raw, 5, 5, 9)  # log 5 is in block 7: blocks 5-6
    assert (kept, end) == (raw[:5], 6)
    with pytest.raises(_sync._RangeTooLarge):  # block 5 alone holds more than the cap
        _sync._first_blocks(raw, 1, 5, 9)
    with pytest.raises(_sync._RangeTooLarge):  # a block number that does not read
        _sync._first_blocks([_log(5), {"blockNumber": "x"}], 1, 5, 9)


@pytest.mark.parametrize(("label", "ptext", "person"), [
    ("www", "example.org", False), ("alice", "example.org", True), ("", "example.org", False),
    ("", "example.org", True), ("a.b", "example.org", False), ("x@y", "example.org", False),
    ("x", "bob@example.org", False), ("x", "bob@example.org", True), ("db", "web1.corp.org", False),
])
def test_a_registered_name_hashes_to_its_node_as_the_whole_text_does(label: str, ptext: str,
                                                                     person: bool) -> None:
    """The one-hash shortcut for a child's node gives raw_namehash(text) whenever it is taken
    (and the whole text is hashed when the label or parent could split differently)."""
    parent = bytes(raw_namehash(ptext))
    text = f"{label}{'@' if person else '.'}{ptext}"
    assert _sync._node_of_text(text, label, parent, person) == bytes(raw_namehash(text))


def test_the_worker_judges_the_guessed_jobs_and_the_sync_only_those_guessed_wrong(
        mixed: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's jobs are guessed as it is decoded and sent to the worker then; as the page is
    stored, a record whose real job is its guess takes the worker's verdict, and only the
    records guessed wrong are judged by the sync: the squatter (the guess says no squatting)
    and the name that does not parse (the sync finds it invalid, the guess leaves it to the
    worker)."""
    inline: list[str] = []
    real = _sync.parsed_key

    def counted(*job: Any) -> Any:
        inline.append(job[2])
        return real(*job)

    monkeypatch.setattr(_sync, "parsed_key", counted)
    monkeypatch.setattr(_verdicts, "IN_FLIGHT", 10**6)  # every chunk to the worker: none here
    kw = {"page_blocks": 1000, "max_page_blocks": 1000}
    _synced(mixed.reg, tmp_path / "public.sqlite", monkeypatch, worker=True, **kw)
    assert inline == ["xn--zz.org"]
    inline.clear()
    _synced(mixed.private, tmp_path / "private.sqlite", monkeypatch,  # type: ignore[attr-defined]
            worker=True, **kw)
    assert inline == ["web1.corp.org"]


def test_jobs_discarded_with_their_page_are_not_collected() -> None:
    """A page that fails after its guesses went to the worker: the worker's answers to them
    are dropped, and the next page's collect returns its own verdicts only."""
    job = (1, ed25519_blob(1), "alice@example.org", b"", None, 1, "0x" + "00" * 20, 1,
           "default", None, False)
    other = (1, ed25519_blob(2), "bob@example.org", *job[3:])
    pool = _verdicts.VerdictPool()
    try:
        pool.submit([job, job])
        pool.submit([job])
        pool.discard()
        pool.submit([other])
        assert pool.collect() == [_verdicts.parsed_key(*other)]
        pool.submit([job])
        pool.discard()
        assert pool.collect() == []
    finally:
        pool.close()


def test_a_reply_the_sync_cannot_read_fails_the_collect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever goes wrong reading the worker's replies, collect raises WorkerFailed (the
    page is then stored with verdicts computed by the sync) instead of waiting for ever."""
    job = (1, ed25519_blob(1), "alice@example.org", b"", None, 1, "0x" + "00" * 20, 1,
           "default", None, False)

    def unreadable(done: Any) -> Any:
        raise LookupError("a reply of an unexpected shape")

    monkeypatch.setattr(_verdicts, "_parsed", unreadable)
    monkeypatch.setattr(_verdicts, "IN_FLIGHT", 10**6)  # every job to the worker
    pool = _verdicts.VerdictPool()
    try:
        pool.submit([job])
        with pytest.raises(_verdicts.WorkerFailed, match="unexpected shape"):
            pool.collect()
    finally:
        pool.close(kill=True)


def test_a_key_that_crashes_a_lint_fails_instead_of_going_unchecked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A key whose material made a lint raise got verdict 'unknown' ("policy check
    unavailable"), the verdict of a sync without a policy, which `[ssh] allow_unchecked`
    serves: a publisher who found such a key skipped the policy. Now only a checker that
    cannot be loaded gives 'unknown'; a check that breaks on the key fails it."""
    import registry.policy as policy

    def crash(*_a: Any, **_k: Any) -> Any:
        raise ZeroDivisionError("a lint divided by a field of the key")

    args = (int(KeyType.SSH), ed25519_blob(3), "alice@example.org", b"", None, 31337,
            "0x" + "22" * 20, 1, "default")
    assert _verdicts.verdict(*args)[3] == "pass"
    monkeypatch.setattr(policy, "failing", crash)
    _alg, _fps, _ids, outcome, detail = _verdicts.verdict(*args)
    assert outcome == "fail", detail
    assert "ZeroDivisionError" in detail

    def missing(*_a: Any, **_k: Any) -> Any:
        raise ImportError("No module named 'pysequoia'")

    monkeypatch.setattr(policy, "failing", missing)
    assert _verdicts.verdict(*args)[3] == "unknown"  # the checker itself is missing
