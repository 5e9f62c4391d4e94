"""A sync page's key verdicts (parse + policy check), inline or in a worker process.

    pool = VerdictPool()
    pool.submit([job, ...]); ...; parsed = pool.collect()   # ParsedKeys, in job order

A verdict is a pure function of its job (:data:`Job`: the record's key type,
material, proof and purposes, and what the index said of its name when the
event was applied: name, owner, validity, squatting), so it can be computed
in another process while the sync decodes, proves and stores the page, with
the same result as :func:`parsed_key` inline. The sync sends jobs it guessed
as it decoded the page, and keeps a verdict only for a record whose real job,
as the page is stored, equals its guess; :meth:`VerdictPool.discard` drops the
jobs of a page that failed. The worker is a child interpreter importing this
checkout's ``registry``; jobs and results travel as ``marshal``-encoded
tuples (plain data, never code) in length-prefixed frames. A worker that
fails or dies raises :class:`WorkerFailed` from :meth:`VerdictPool.collect`:
the page is not stored (sync then stores it again, computing the verdicts itself).
"""

from __future__ import annotations

import marshal
import struct
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any

from registry.errors import ConfigError, Error, IndexUnavailable

TYPE_CHECKING = False
if TYPE_CHECKING:  # the worker never builds a ParsedKey: it need not import the Store
    from registry.index._store import ParsedKey

__all__ = ["Job", "VerdictPool", "WorkerFailed", "parsed_key"]

#: (key_type, material, name, proof, owner, chain_id, registry, purposes, profile,
#:  valid_name, squatted_by)
Job = tuple[int, bytes, str, bytes, "str | None", int, str, int, "str | None", "bool | None",
            "str | bool"]
_FRAME = struct.Struct(">I")


class WorkerFailed(IndexUnavailable):
    """The worker could not start, failed or died: nothing of the page may be stored."""


def parsed_key(*job: Any) -> ParsedKey:
    """Parse the material and run the policy (verdict pass / fail / unknown): :func:`verdict`
    as a :class:`ParsedKey`."""
    from registry.index._store import ParsedKey

    return ParsedKey(*verdict(*job))


def verdict(key_type: int, material: bytes, name: str, proof: bytes, owner: str | None,
            chain_id: int, registry: str, purposes: int, profile: str | None,
            valid_name: bool | None = True, squatted_by: str | bool = False,
            ) -> tuple[str, tuple[str, ...], tuple[str, ...], str, str]:
    """A job's ParsedKey fields (algorithm, fingerprints, identities, verdict, detail).

    A record under a name the grammar refuses fails (nothing serves it;
    ``valid_name=None``: check the name here); ``squatted_by`` (the domain the
    name squats in, or False) goes to the policy's ``binding.domain_chain`` lint.
    """
    # modules, not packages: ``from package import name`` runs importlib's fromlist walk in
    # Python on every call, and this runs once a key
    from registry.keys._common import commitment
    from registry.keys._load import load_material

    if valid_name is None:  # registry.index._open.valid_name, without its sqlite3 import
        from registry._errors_core import InvalidName
        from registry._grammar import normal_name

        try:
            valid_name = normal_name(name) == name
        except InvalidName:
            valid_name = False

    try:
        key = load_material(key_type, material)
    except Error as exc:
        return ("unparsable", (), (), "fail", f"material does not parse: {exc}")
    fps = [str(key.fingerprint)]
    spki = getattr(key, "spki_sha256", None)
    if isinstance(spki, str) and spki:
        fps.append(spki)
    for sub in getattr(key, "subkeys", ()) or ():
        fp = getattr(sub, "fingerprint", None)
        if isinstance(fp, str):
            fps.append(fp)
    idents = tuple(str(i) for i in (key.identities or ()))
    algorithm = str(key.algorithm)
    if not valid_name:
        return (algorithm, tuple(dict.fromkeys(fps)), idents, "fail",
                f"name {name!r} is not a valid registry name: its keys are never served")
    if profile is None:
        return (algorithm, tuple(dict.fromkeys(fps)), idents, "unknown", "no policy check")
    try:
        import registry.policy as policy  # (``registry`` is an argument here)

        kwargs: dict[str, Any] = {"profile": profile, "name": name, "purposes": purposes,
                                  "squatted_by": squatted_by}
        if proof and owner:
            from registry.proofs import statement

            kwargs["proof"] = proof
            kwargs["statement"] = statement(chain_id, registry, name, owner,
                                            commitment(key_type, material))
        # the report's profile, policy hash and failures, without building the report
        checked, sha256, failed = policy.failing(key, **kwargs)
        outcome = "fail" if failed else "pass"
        detail = f"{checked} {sha256[:16]}"
        if failed:
            detail += ": " + ", ".join(failed)
    except (ImportError, ConfigError) as exc:  # the checker is optional (or not set up):
        # say so; 'unknown' is what a sync without a policy stores
        outcome, detail = "unknown", f"policy check unavailable: {type(exc).__name__}: {exc}"
    except Exception as exc:  # the check broke on this key: it fails (allow_unchecked serves
        # 'unknown', so a key that crashes a lint must not land there)
        outcome, detail = "fail", f"policy check failed on this key: {type(exc).__name__}: {exc}"
    return (algorithm, tuple(dict.fromkeys(fps)), idents, outcome, detail)


def _write(out: IO[bytes], value: Any) -> None:
    blob = marshal.dumps(value)
    out.write(_FRAME.pack(len(blob)) + blob)
    out.flush()


def _read(src: IO[bytes]) -> Any:
    """The next frame's value, or None at the end of the stream."""
    head = src.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(head)
    blob = src.read(size)
    if len(blob) < size:
        return None
    return marshal.loads(blob)


#: An SSH Ed25519 public key (wire form) the worker judges once as it starts.
_WARM_UP_KEY = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes(range(32))


def warm_up() -> None:
    """Import and build what a verdict needs (key parsers, name grammar, the default policy's
    tables): one verdict of a sample key, its result dropped. The worker does this as it
    starts, while the sync still fetches and proves its first page. (Possession proofs'
    module is imported by the first key with a proof: most have none.)"""
    import contextlib

    with contextlib.suppress(Exception):
        verdict(1, _WARM_UP_KEY, "warm-up@example.org", b"", "0x" + "00" * 20, 0,
                "0x" + "00" * 20, 1, "default", None, False)


def serve(src: IO[bytes], out: IO[bytes]) -> None:
    """The worker's loop: a list of jobs in, ``("ok", [result tuple, ...])`` out, in order;
    ``("error", text)`` when a job raised (the pool then fails the page).

    A thread reads the jobs as they come (the sync never waits for the pipe to drain);
    meanwhile the worker warms up (:func:`warm_up`)."""
    import queue

    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def receive() -> None:
        try:
            while (frame := _read(src)) is not None:
                inbox.put(frame)
        finally:
            inbox.put(None)

    threading.Thread(target=receive, name="verdict-jobs", daemon=True).start()
    warm_up()
    while (jobs := inbox.get()) is not None:
        try:
            done = []
            for job in jobs:
                done.append(verdict(*job))
            _write(out, ("ok", done))
        except Exception as exc:  # reported to the sync, which stops the page
            _write(out, ("error", f"{type(exc).__name__}: {exc}"))


#: Chunks of jobs the worker holds at once; the rest wait in the pool, so that at collect
#: time the sync can compute the last of them itself while the worker does the first.
IN_FLIGHT = 2


def _parsed(done: list[Any]) -> list[ParsedKey]:
    from registry.index._store import ParsedKey

    return [ParsedKey(a, tuple(f), tuple(i), v, d) for a, f, i, v, d in done]


class VerdictPool:
    """One worker process computing :func:`parsed_key` for the jobs submitted, in order.

    :meth:`submit` queues a chunk of jobs and returns at once (the worker holds
    :data:`IN_FLIGHT` chunks at a time; a thread reads its replies and sends it
    the next). :meth:`collect` returns the :class:`ParsedKey` of every job
    submitted since the last collect, in submission order; while it waits, it
    computes the last chunks not yet sent itself (the worker takes them from
    the front, the sync from the back), so neither process idles at the end of
    a page.
    """

    def __init__(self) -> None:
        # the child imports this checkout's registry, whatever the working directory holds
        # (``-c`` would put it first on sys.path)
        import subprocess  # (here: the worker, which imports this module, never needs it)

        root = str(Path(__file__).resolve().parents[2])
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "import sys\nsys.path[0] = sys.argv[1]\n"
                 "from registry.index._verdicts import serve\n"
                 "serve(sys.stdin.buffer, sys.stdout.buffer)\n"
                 # every reply is flushed: no interpreter teardown, which the sync waits for
                 "import os\nos._exit(0)", root],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError as exc:
            raise WorkerFailed(f"cannot start the policy worker: {exc}") from exc
        self._lock = threading.Condition()
        self._unsent: deque[tuple[int, list[Job]]] = deque()
        self._in_flight: deque[int] = deque()
        self._results: dict[int, list[ParsedKey]] = {}
        self._next = self._first = 0  # chunk numbers: the next to submit, the page's first
        self._failed: str | None = None
        self._reader = threading.Thread(target=self._drain, name="sync-verdicts", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self._proc.stdout is not None
        try:
            while (reply := _read(self._proc.stdout)) is not None:
                with self._lock:
                    if reply[0] != "ok":
                        self._failed = str(reply[1])
                    elif not self._in_flight:
                        self._failed = "it answered a chunk it was not sent"
                    else:
                        number = self._in_flight.popleft()
                        if number >= self._first:  # else discarded: not wanted
                            self._results[number] = _parsed(reply[1])
                        self._pump()
                    self._lock.notify_all()
        except Exception as exc:  # whatever broke reading it, collect must not wait on
            with self._lock:
                self._failed = f"unreadable reply ({type(exc).__name__}: {exc})"
        finally:
            with self._lock:
                self._failed = self._failed or "it exited"
                self._lock.notify_all()

    def _pump(self) -> None:
        """Send the worker the next chunks, up to IN_FLIGHT (call holding the lock)."""
        assert self._proc.stdin is not None
        while self._unsent and len(self._in_flight) < IN_FLIGHT and self._failed is None:
            number, jobs = self._unsent.popleft()
            try:
                _write(self._proc.stdin, jobs)
            except (OSError, ValueError) as exc:
                self._failed = f"it stopped reading ({exc})"
                self._unsent.appendleft((number, jobs))
                return
            self._in_flight.append(number)

    def submit(self, jobs: list[Job]) -> None:
        """Queue a chunk of jobs for the worker (returns without waiting for them)."""
        if not jobs:
            return
        with self._lock:
            self._unsent.append((self._next, list(jobs)))
            self._next += 1
            self._pump()

    def discard(self) -> None:
        """Forget every job submitted since the last collect (the page they were for failed):
        those not sent yet are dropped, the worker's answers to the others ignored, and the
        next collect returns only what is submitted after this."""
        with self._lock:
            self._unsent.clear()
            for number in range(self._first, self._next):
                self._results.pop(number, None)
            self._first = self._next

    def collect(self) -> list[ParsedKey]:
        """The verdicts of every job submitted since the last collect, in order.

        Raises:
            IndexUnavailable: the worker failed or died (nothing of the page may be stored).
        """
        while True:
            with self._lock:
                if self._failed is not None:
                    raise WorkerFailed(f"the policy worker failed: {self._failed}; nothing"
                                           " from this page was stored")
                if self._unsent:
                    number, jobs = self._unsent.pop()  # the last: computed here, meanwhile
                elif self._in_flight:
                    self._lock.wait()
                    continue
                else:
                    break
            done = [parsed_key(*job) for job in jobs]
            with self._lock:
                self._results[number] = done
        out: list[ParsedKey] = []
        for number in range(self._first, self._next):
            out += self._results.pop(number)
        self._first = self._next
        return out

    def close(self, *, kill: bool = False) -> None:
        """Stop the worker: at the end of its input, or at once (``kill``: what it still
        computes is not wanted)."""
        import subprocess

        proc = self._proc
        if kill:
            proc.kill()
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
