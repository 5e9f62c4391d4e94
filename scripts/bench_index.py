#!/usr/bin/env python3
"""Benchmark the index: authorized-keys cold-process latency, sync throughput, index size.

    python3 scripts/bench_index.py                     # everything (needs anvil for sync)
    python3 scripts/bench_index.py --runs 50 --names 100000 --sync-names 5000
    python3 scripts/bench_index.py --latency-only --runs 15 --index ~/.cache/ak-bench/index.sqlite
    python3 scripts/bench_index.py --size-only --names 100000 --pgp-certs 3000
    python3 scripts/bench_index.py --latency-only --wheel --instructions   # + the built wheel

1. Builds an index of ``--names`` person names with one SSH user key each,
   straight through the store API (no chain), and reports its size per record
   beside the 51-byte key; the same for ``--pgp-certs`` fresh OpenPGP
   certificates beside their material; then times publishing the SSH index
   (the snapshot readers open: a full copy renamed into place) against a plain
   file copy of the same file in the same run (the floor).
2. Runs keyanchor-ssh's entry point (``authorized-keys <user>``) as a fresh
   process ``--runs`` times, interleaved with ``python3 -c pass`` and the
   stdlib floor script ``scripts/ak_floor.py`` (the same query and output,
   none of the checks), with bytecode cached, with keyanchor's not cached, and
   with nothing cached, the first two also under ``python3 -S`` (no ``.pth``
   imports); prints medians, p95 and the ratios, in wall-clock and in CPU time, and
   with ``--instructions`` each command's instruction count (valgrind).
   ``--installed DIR`` / ``--wheel``: also the login of an installed wheel
   (``pip install --target DIR``; ``--wheel`` builds this checkout's and
   installs it so), its compiled modules included, timed the same way.
3. Starts anvil, sends ``--sync-names`` assign + publish transactions pipelined
   (JSON-RPC batches of eth_sendTransaction, automine off, one big block per
   batch), then times a fresh, fully verified sync (policy verdicts included).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def blob(seed: int) -> bytes:
    pk = hashlib.sha256(seed.to_bytes(8, "big")).digest()
    kt = b"ssh-ed25519"
    return struct.pack(">I", len(kt)) + kt + struct.pack(">I", 32) + pk


def build_index(path: Path, names: int) -> float:
    import base64

    from registry.index._store import Event, ParsedKey, Store
    from registry.keys import commitment
    from registry.names import namehash

    t0 = time.perf_counter()
    org = bytes(namehash("example.org"))
    owner = "0x" + "11" * 20
    with Store.open(path) as store, store.transaction():
        store.apply(Event("NameRegistered", 1, 0, b"\x01" * 32, org, 1, {
            "name": "example.org", "label": "example.org", "parent": b"\x00" * 32,
            "person": False, "owner": owner}))
        for i in range(names):
            name = f"u{i}@example.org"
            node = bytes(namehash(name))
            block = 2 + i
            store.apply(Event("NameRegistered", block, 0, b"\x02" * 32, node, block, {
                "name": name, "label": f"u{i}", "parent": org, "person": True, "owner": owner}))
            m = blob(i)
            fp = "SHA256:" + base64.b64encode(hashlib.sha256(m).digest()).decode().rstrip("=")
            store.apply(Event("KeyPublished", block, 1, b"\x03" * 32, node, block, {
                "index": 0, "commitment": commitment(1, m), "key_type": 1, "purposes": 1,
                "valid_from": 0, "valid_until": 0, "durable": False, "material": m, "proof": b""},
                ParsedKey("ssh-ed25519", (fp,), (), "pass", "bench")))
        store.set_meta("synced_block", names + 1)
        store.mark_synced()
    with Store.open(path) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - t0


def bench_publish(index: Path, runs: int = 5) -> dict[str, float]:
    """Median seconds of Store.publish() and of shutil.copyfile of the same index (the floor)."""
    import shutil

    from registry.index._store import Store

    pub, copy = [], []
    with Store.open(index) as store:
        for _ in range(runs):
            t = time.perf_counter()
            shutil.copyfile(index, index.with_name("floor.sqlite"))
            os.sync()
            copy.append(time.perf_counter() - t)
            t = time.perf_counter()
            store.publish()
            pub.append(time.perf_counter() - t)
    index.with_name("floor.sqlite").unlink()
    return {"publish_s": statistics.median(pub), "copy_s": statistics.median(copy)}


def safe_base() -> Path:
    """A directory whose whole path passes the sshd path's StrictModes checks (not /tmp)."""
    import stat

    bases = [Path("/run")] if os.geteuid() == 0 else []
    if os.environ.get("XDG_RUNTIME_DIR"):
        bases.append(Path(os.environ["XDG_RUNTIME_DIR"]))
    bases.append(Path.home() / ".cache")
    for base in bases:
        if all(p.stat().st_uid in (0, os.geteuid()) and not p.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)
               for p in [base, *base.parents]) and os.access(base, os.W_OK):
            return base
    raise SystemExit("no directory passes the StrictModes rules (root: /run; else ~/.cache)")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def openpgp_index(path: Path, certs: int) -> dict[str, float]:
    """An index of ``certs`` fresh OpenPGP certificates (pysequoia, one user ID each): bytes on
    disk and bytes of material per record."""
    import warnings

    import pysequoia

    from registry.index._store import Event, ParsedKey, Store
    from registry.keys import commitment, load_openpgp_cert
    from registry.names import namehash

    org = bytes(namehash("example.org"))
    owner = "0x" + "22" * 20
    material = 0
    with Store.open(path) as store, store.transaction():
        store.apply(Event("NameRegistered", 1, 0, b"\x01" * 32, org, 1, {
            "name": "example.org", "label": "example.org", "parent": b"\x00" * 32,
            "person": False, "owner": owner}))
        for i in range(certs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cert = load_openpgp_cert(bytes(pysequoia.Cert.generate(f"User {i} <u{i}@example.org>")))
            name = f"u{i}@example.org"
            node = bytes(namehash(name))
            block = 2 + i
            material += len(cert.material)
            fps = (cert.fingerprint, *(k.fingerprint for k in cert.subkeys))
            store.apply(Event("NameRegistered", block, 0, b"\x02" * 32, node, block, {
                "name": name, "label": f"u{i}", "parent": org, "person": True, "owner": owner}))
            store.apply(Event("KeyPublished", block, 1, b"\x03" * 32, node, block, {
                "index": 0, "commitment": commitment(2, cert.material), "key_type": 2,
                "purposes": 12, "valid_from": 0, "valid_until": 0, "durable": False,
                "material": cert.material, "proof": b""},
                ParsedKey(cert.algorithm, fps, tuple(cert.identities), "pass", "bench")))
        store.set_meta("synced_block", certs + 1)
        store.mark_synced()
    return {"bytes": path.stat().st_size / certs, "material": material / certs}


def table_sizes(path: Path) -> list[tuple[str, int]]:
    """Bytes per table or index of an SQLite file (``dbstat``; empty if SQLite lacks it),
    largest first."""
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.Error:
        rows = []
    finally:
        conn.close()
    return sorted(((str(n), int(b)) for n, b in rows), key=lambda r: -r[1])


FLOOR = REPO / "scripts" / "ak_floor.py"
#: What the console script ``keyanchor-ssh`` runs (pip's entry-point wrapper, without its ``re``).
ENTRY = "import sys; from cli.ssh_entry import _console_main; sys.exit(_console_main())"


def _copy_sources(dst: Path, root: Path = REPO) -> Path:
    """The keyanchor packages of ``root`` copied without any __pycache__ (as an install
    without bytecode)."""
    import shutil

    for pkg in ("registry", "cli"):
        shutil.copytree(root / pkg, dst / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def bench_latency(index: Path, runs: int, names: int, d: Path,
                  baseline: Path | None = None,
                  baseline_index: Path | None = None,
                  instructions: bool = False,
                  installed: Path | None = None) -> dict[str, dict[str, float]]:
    """Median (and p95) ms of ``python3 -c pass``, the stdlib floor script and keyanchor-ssh,
    interleaved, in five modes: bytecode cached; keyanchor's bytecode not cached (a copy of
    the sources, PYTHONDONTWRITEBYTECODE); nothing cached (also an empty PYTHONPYCACHEPREFIX,
    so the standard library compiles too, for all three); and the first two again with
    ``python3 -S`` for all three (no site: what a venv whose ``.pth`` files import nothing
    costs -- this one's import pathlib, re and typing for every process, hiding those
    imports; keyanchor gets the directory its one dependency on the path, safe-pysha3, is
installed in). ``baseline``: another checkout timed the same way, interleaved (a copy of its
    sources in the modes without keyanchor's bytecode). ``installed``: a ``pip install
    --target`` directory whose login is timed the same way (a copy without ``__pycache__``
    in those modes: its C extensions, if any, stay). ``d``: a scratch directory.
    ``instructions``: also count each command's user-space instructions once per mode
    under valgrind (``<command>_minstr``, millions): the same on a loaded machine as on a
    quiet one, unlike the times (kernel time and cache misses are not in it)."""
    cfg = d / "config.toml"
    cfg.write_text('[ssh]\nuser_template = "{user}@example.org"\n')
    cfg.chmod(0o644)
    user = f"u{names // 2}"
    base = {**os.environ, "KEYANCHOR_CONFIG": str(cfg), "KEYANCHOR_INDEX": str(index)}
    base.pop("PYTHONPYCACHEPREFIX", None)
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    src = _copy_sources(d / "src")
    empty = d / "pycache-empty"
    nocache = {"PYTHONDONTWRITEBYTECODE": "1"}
    # mode -> (environment, interpreter flags, whether keyanchor's sources are the bare copy)
    modes: dict[str, tuple[dict[str, str], list[str], bool]] = {
        "cached": ({**base, "PYTHONPATH": str(REPO)}, [], False),
        "keyanchor not cached": ({**base, "PYTHONPATH": str(src), **nocache}, [], True),
        "nothing cached": ({**base, "PYTHONPATH": str(src), **nocache,
                            "PYTHONPYCACHEPREFIX": str(empty)}, [], True),
        "-S, cached": ({**base, "PYTHONPATH": str(REPO)}, ["-S"], False),
        "-S, keyanchor not cached": ({**base, "PYTHONPATH": str(src), **nocache}, ["-S"], True),
    }
    cmds = {"pass": ["-c", "pass"],
            "floor": [str(FLOOR), str(index), user, f"{user}@example.org"],
            "keyanchor": ["-c", ENTRY, "authorized-keys", user]}
    paths = {"keyanchor": (str(REPO), str(src))}
    if baseline is not None:
        cmds["baseline"] = cmds["keyanchor"]
        paths["baseline"] = (str(baseline), str(_copy_sources(d / "base-src", baseline)))
    if installed is not None:
        cmds["installed"] = cmds["keyanchor"]
        paths["installed"] = (str(installed), str(_copy_sources(d / "installed-src", installed)))

    import _pysha3  # the one third-party module the sshd path imports (Keccak)

    site_dir = os.path.dirname(_pysha3.__file__)

    def env_of(mode: str, c: str) -> dict[str, str]:
        env, flags, bare = modes[mode]
        e = dict(env)
        if c in paths:
            e["PYTHONPATH"] = paths[c][bare]
            if "-S" in flags:  # no site: the installed dependency's directory, without its .pth
                e["PYTHONPATH"] += os.pathsep + site_dir
        if c == "baseline" and baseline_index is not None:  # another index schema
            e["KEYANCHOR_INDEX"] = str(baseline_index)
        return e

    def argv_of(mode: str, c: str) -> list[str]:
        return [sys.executable, *modes[mode][1], *cmds[c]]

    for mode in modes:  # same output; and the cached mode's .pyc written once
        want = subprocess.run(argv_of(mode, "floor"), env=env_of(mode, "floor"),
                              capture_output=True, text=True, cwd=d).stdout
        for c in paths:
            got = subprocess.run(argv_of(mode, c), env=env_of(mode, c), capture_output=True,
                                 text=True, cwd=d)
            assert got.returncode == 0 and got.stdout == want and want.startswith("ssh-ed25519 "), \
                (mode, c, got.stderr, want)
    minstr: dict[str, dict[str, float]] = {m: {} for m in modes}
    for mode in modes if instructions else ():
        for c in cmds:
            minstr[mode][c] = valgrind_instructions(argv_of(mode, c), env_of(mode, c), d) / 1e6
    times: dict[str, dict[str, list[float]]] = {m: {c: [] for c in cmds} for m in modes}
    cpu: dict[str, dict[str, list[float]]] = {m: {c: [] for c in cmds} for m in modes}
    for _ in range(runs):
        for mode in modes:
            for c in cmds:
                argv, e = argv_of(mode, c), env_of(mode, c)
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                subprocess.run(argv, env=e, check=True, stdout=subprocess.DEVNULL, cwd=d)
                times[mode][c].append(time.perf_counter() - t)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[mode][c].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return {m: {f"{c}_{k}": f(v) * 1e3 for c, v in per.items() if v
                for k, f in (("median", statistics.median), ("p95", lambda x: pct(x, 0.95)))}
            | {f"{c}_cpu": statistics.median(v) * 1e3 for c, v in cpu[m].items() if v}
            | {f"{c}_minstr": v for c, v in minstr[m].items()}
            for m, per in times.items()}


def print_ratios(lat: dict[str, dict[str, float]], key: str, value: str, ratio: str) -> None:
    """One line per mode: the ``<command>_<key>`` figures and keyanchor's (and the
    baseline's) ratios to the floor and to ``python3 -c pass``."""
    for mode, r in lat.items():
        k, f, p = r[f"keyanchor_{key}"], r[f"floor_{key}"], r[f"pass_{key}"]
        line = (f"  {mode:26} pass {value.format(p)}, floor {value.format(f)},"
                f" keyanchor-ssh {value.format(k)}: {ratio.format(k / f)}x floor,"
                f" {ratio.format(k / p)}x pass")
        for other in ("baseline", "installed"):
            if f"{other}_{key}" in r:
                b = r[f"{other}_{key}"]
                line += (f"; {other} {value.format(b)}: {ratio.format(b / f)}x floor,"
                         f" {ratio.format(b / p)}x pass")
        print(line)


def install_wheel(d: Path) -> Path:
    """This checkout's wheel, built as a release builds it, installed under ``d``."""
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", "--root-user-action=ignore"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(d / "dist"),
                    str(REPO)], check=True, cwd=d)
    (wheel,) = (d / "dist").glob("keyanchor-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(d / "site"),
                    str(wheel)], check=True, cwd=d)
    print(f"wheel: {wheel.name}, {sum(1 for _ in (d / 'site').rglob('*.so'))} compiled modules")
    return d / "site"


def valgrind_instructions(argv: list[str], env: dict[str, str], cwd: Path) -> int:
    """User-space instructions one run of ``argv`` executes (valgrind's cachegrind, no cache
    simulation); the command must succeed."""
    run = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                          "--cachegrind-out-file=/dev/null", *argv], env=env, cwd=cwd,
                         capture_output=True, text=True, check=True)
    for line in run.stderr.splitlines():
        if "I refs:" in line or "I   refs:" in line:
            return int(line.rsplit(":", 1)[1].replace(",", ""))
    raise RuntimeError(f"no instruction count in valgrind's output: {run.stderr[-300:]}")


# --------------------------------------------------------------------------- anvil sync


def rpc(url: str, payload: object) -> object:
    req = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        return json.loads(resp.read())


def call(url: str, method: str, params: list[object]) -> object:
    reply = rpc(url, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    assert isinstance(reply, dict)
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def bench_sync(names: int, workdir: Path) -> dict[str, float]:
    import socket

    from registry.chain.client import load_contract
    from registry.names import namehash

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["anvil", "--port", str(port), "--host", "127.0.0.1", "--silent",
                             "--gas-limit", "3000000000", "--code-size-limit", "100000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                call(url, "eth_chainId", [])
                break
            except OSError:
                time.sleep(0.05)
        c = load_contract()
        me = call(url, "eth_accounts", [])[0]  # type: ignore[index]
        import eth_abi

        from registry.psl import suffix_tree

        init = c.bytecode + eth_abi.encode(["bytes32", "bool", "address"],
                                           [suffix_tree().root, False, me])
        tx = call(url, "eth_sendTransaction", [{"from": me, "data": "0x" + init.hex(),
                                                 "gas": hex(10_000_000)}])
        receipt = None
        for _ in range(200):
            receipt = call(url, "eth_getTransactionReceipt", [tx])
            if receipt:
                break
            time.sleep(0.05)
        address = receipt["contractAddress"]  # type: ignore[index]
        start = int(receipt["blockNumber"], 16)  # type: ignore[index]
        call(url, "evm_setAutomine", [False])
        org = bytes(namehash("bench.org"))
        txs = [c.fn("register").encode(["bench.org", suffix_tree().prove("bench.org").as_abi()])]
        for i in range(names):
            txs.append(c.fn("assign").encode([org, f"u{i}", True, me]))
        for i in range(names):
            node = bytes(namehash(f"u{i}@bench.org"))
            txs.append(c.fn("publish").encode([node, 1, 1, 0, 0, blob(i), b"", False]))
        nonce = int(call(url, "eth_getTransactionCount", [me, "pending"]), 16)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        for lo in range(0, len(txs), 1000):
            batch = [{"jsonrpc": "2.0", "id": j, "method": "eth_sendTransaction",
                      "params": [{"from": me, "to": address, "data": "0x" + d.hex(),
                                  "gas": hex(400_000), "nonce": hex(nonce + lo + j)}]}
                     for j, d in enumerate(txs[lo:lo + 1000])]
            for r in rpc(url, batch):  # type: ignore[union-attr]
                assert "error" not in r, r
            call(url, "evm_mine", [])
        send_s = time.perf_counter() - t0
        while int(call(url, "txpool_status", [])["pending"], 16):  # type: ignore[index]
            call(url, "evm_mine", [])
        call(url, "evm_setAutomine", [True])
        from web3 import HTTPProvider, Web3

        from registry.index import IndexReader, sync_index

        w3 = Web3(HTTPProvider(url))
        index = workdir / "sync.sqlite"
        t0 = time.perf_counter()
        result = sync_index(index, (w3, address, start))
        sync_s = time.perf_counter() - t0
        with IndexReader.open(index) as ix:
            recs = ix.records("u7@bench.org")
            assert len(recs) == 1 and recs[0].policy == "pass", recs
        t0 = time.perf_counter()
        nopolicy = sync_index(workdir / "sync-nopolicy.sqlite", (w3, address, start),
                              policy_profile=None)
        sync2_s = time.perf_counter() - t0
        return {"events": result.events, "sync_s": sync_s, "events_per_s": result.events / sync_s,
                "events_per_s_no_policy": nopolicy.events / sync2_s, "pages": result.pages,
                "send_s": send_s, "index_bytes": index.stat().st_size}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--pgp-certs", type=int, default=2_000)
    ap.add_argument("--sync-names", type=int, default=5_000)
    ap.add_argument("--skip-sync", action="store_true")
    ap.add_argument("--latency-only", action="store_true",
                    help="only the authorized-keys cold-process latency (no sizes, publish, sync)")
    ap.add_argument("--size-only", action="store_true",
                    help="only build the SSH and OpenPGP indexes and report their sizes")
    ap.add_argument("--index", type=Path, default=None,
                    help="SSH index of --names names to time against (built there if missing,"
                         " and kept; its directory must pass StrictModes, e.g. under ~/.cache)")
    ap.add_argument("--baseline-index", type=Path, default=None,
                    help="the index --baseline reads (one its own code built, when the schemas"
                         " differ: e.g. its scripts/bench_index.py's build_index)")
    ap.add_argument("--instructions", action="store_true",
                    help="also count each authorized-keys command's instructions once per mode"
                         " (valgrind): ratios that do not move with the machine's load")
    ap.add_argument("--installed", type=Path, default=None,
                    help="a `pip install --no-deps --target DIR` of a keyanchor wheel whose"
                         " authorized-keys is timed interleaved too (its compiled modules)")
    ap.add_argument("--wheel", action="store_true",
                    help="build this checkout's wheel (setup.py: the login compiled, when it can"
                         " be) and time it as --installed does")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another checkout (e.g. `git worktree add /tmp/base main`) whose"
                         " authorized-keys is timed interleaved with this one, in every mode")
    args = ap.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cpus, Python {platform.python_version()},"
          f" load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(dir=safe_base()) as tmp:
        d = Path(tmp)
        d.chmod(0o755)
        index = args.index.resolve() if args.index else d / "index.sqlite"
        if index.exists() and time.time() - index.stat().st_mtime > 3000:
            index.unlink()  # the sshd path would refuse it as stale within the hour
        if not index.exists():
            index.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            built = build_index(index, args.names)
            size = index.stat().st_size
            per = size / args.names
            print(f"SSH index: {args.names} names + ed25519 records built in {built:.1f} s;"
                  f" {size / 1e6:.1f} MB = {per:,.0f} B per record"
                  f" (material 51 B: {per / 51:.1f}x); target <= 400 B:"
                  f" {'met' if per <= 400 else 'NOT met'}")
            if args.size_only:
                print("  by table (dbstat, B per record): " + ", ".join(
                    f"{t} {b / args.names:,.0f}" for t, b in table_sizes(index)))
        if args.pgp_certs and not args.latency_only:
            pgp = openpgp_index(d / "openpgp.sqlite", args.pgp_certs)
            ratio = pgp["bytes"] / pgp["material"]
            print(f"OpenPGP index: {args.pgp_certs} certificates: {pgp['bytes']:,.0f} B per record,"
                  f" material {pgp['material']:,.0f} B -> {ratio:.2f}x the material;"
                  f" target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}")
            if args.size_only:
                print("  by table (dbstat, B per record): " + ", ".join(
                    f"{t} {b / args.pgp_certs:,.0f}" for t, b in table_sizes(d / "openpgp.sqlite")))
        if args.size_only:
            return 0
        if not args.latency_only:
            pub = bench_publish(index)
            print(f"publish (copy + rename, 5 runs): median {pub['publish_s'] * 1e3:.0f} ms;"
                  f" cp of the same file: {pub['copy_s'] * 1e3:.0f} ms"
                  f" -> ratio {pub['publish_s'] / pub['copy_s']:.2f}x")
        installed = args.installed.resolve() if args.installed else None
        if args.wheel:
            installed = install_wheel(d)
        lat = bench_latency(index, args.runs, args.names, d, args.baseline,
                            args.baseline_index.resolve() if args.baseline_index else None,
                            args.instructions, installed)
        print(f"authorized-keys cold process, {args.names:,} names, medians (p95) of {args.runs}"
              " interleaved runs, ms:")
        print(f"  {'mode':26} {'python3 -c pass':>16} {'stdlib floor':>14} {'keyanchor-ssh':>14}"
              f" {'/ floor':>8} {'/ pass':>7}   (targets <= 1.2x, <= 1.5x)")
        for mode, r in lat.items():
            print(f"  {mode:26} {r['pass_median']:7.1f} ({r['pass_p95']:5.1f})"
                  f" {r['floor_median']:6.1f} ({r['floor_p95']:5.1f})"
                  f" {r['keyanchor_median']:6.1f} ({r['keyanchor_p95']:5.1f})"
                  f" {r['keyanchor_median'] / r['floor_median']:7.2f}x"
                  f" {r['keyanchor_median'] / r['pass_median']:6.2f}x")
            for other, where in (("baseline", args.baseline), ("installed", installed)):
                if f"{other}_median" in r:
                    print(f"  {'':26} {other} {where}: {r[f'{other}_median']:.1f} ms"
                          f" ({r[f'{other}_median'] / r['floor_median']:.2f}x floor,"
                          f" {r[f'{other}_median'] / r['pass_median']:.2f}x pass) -> this / {other}"
                          f" {r['keyanchor_median'] / r[f'{other}_median']:.2f}x")
        print("  the same runs in CPU time (user + sys of each process; less shaken by other work"
              " on the machine), medians, ms:")
        print_ratios(lat, "cpu", "{:6.1f}", "{:.2f}")
        if args.instructions:
            print("  instructions (user space, valgrind, one run each; deterministic), millions:")
            print_ratios(lat, "minstr", "{:6.1f}", "{:.3f}")
        if not args.skip_sync and not args.latency_only:
            s = bench_sync(args.sync_names, d)
            print(f"sync from anvil: {s['events']} events in {s['sync_s']:.2f} s ="
                  f" {s['events_per_s']:.0f} events/s verified, policy verdicts included"
                  f" ({s['events_per_s_no_policy']:.0f} events/s without the policy check);"
                  f" {s['pages']} pages; target >= 5,000/s")
            print(f"  (sending {args.sync_names * 2 + 1} txs took {s['send_s']:.1f} s;"
                  f" synced index {s['index_bytes'] / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
