"""A normal (non-editable) install leaves nothing for sshd's login to compile (issue 15).

sshd starts ``keyanchor-ssh`` on every login; without ``.pyc`` files beside
the modules it imports, every login compiles them again (and, run as an
unprivileged ``AuthorizedKeysCommandUser``, can never cache the result). The
tests build the wheel the way a release does (once per module), install it
with pip's defaults, and check that

- the login's modules are C extensions (setup.py compiles them with Cython
  when a C compiler is there), every other keyanchor module the login imports
  has valid bytecode from the install;
- the compiled login answers byte for byte as the pure-Python one, exit codes
  and messages included, for every kind of input (keys, no keys, revoked,
  stale or corrupt index, altered material, junk user names), and a check
  patched in its module is still the one called (globals stay dynamic);
- an editable install and a build without a working compiler are pure Python.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shlex
import shutil
import sqlite3
import struct
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

import pytest

from registry.index._store import Store
from tests.index.test_ssh_gateway import Builder, world  # noqa: F401 -- the fixture

REPO = Path(__file__).resolve().parents[2]

#: Modules split off the login's own, loaded only for a rarer input (a name not in normal
#: form, a refusal, another key type): compiled at install too.
LAZY = ("registry/_grammar_parse.py", "registry/keys/_ssh_formats.py", "registry/keys/_ssh_checks.py",
        "registry/keys/_ssh_options.py", "registry/gateways/_toml_inline.py")

#: The login's package ``__init__`` files that hold only a docstring: left as Python (a
#: shared library costs more to load than these cost to compile).
DOCSTRING_ONLY = {"registry", "cli", "registry.gateways"}

PROBE = """
import importlib.util, json, sys
from cli.ssh_entry import main
rc = main(sys.argv[1:])
root = {root!r}
mods = sorted((name, m.__file__) for name, m in list(sys.modules.items())
              if (getattr(m, "__file__", None) or "").startswith(root))
print(json.dumps({{"rc": rc, "modules": mods}}), file=sys.stderr)
"""


def _login_modules() -> tuple[str, ...]:
    """setup.py's LOGIN_MODULES, read without running setup.py."""
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "LOGIN_MODULES":
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no LOGIN_MODULES")


def _compiler() -> str | None:
    """The C compiler setuptools would run, if it is on this machine."""
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    return shutil.which(cc[0]) if cc else None


def _pip(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    run = subprocess.run([sys.executable, "-m", "pip", "-v", *args], capture_output=True, text=True,
                         timeout=900, cwd=cwd,
                         env={**os.environ, **(env or {}), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout + run.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The wheel built from this tree as a release builds it, installed with pip's defaults."""
    tmp = tmp_path_factory.mktemp("wheel")
    log = _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(REPO),
               cwd=tmp, env={"KEYANCHOR_NATIVE": ""})
    (wheel,) = (tmp / "dist").glob("keyanchor-*.whl")
    target = tmp / "site"
    _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel), cwd=tmp)
    yield {"wheel": wheel, "site": target, "log": log}


def _env(path: Path | str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONPYCACHEPREFIX")}
    env.update(PYTHONPATH=str(path), PYTHONDONTWRITEBYTECODE="1")
    return env


def _probe(site: Path, cwd: Path, *args: str) -> dict[str, Any]:
    run = subprocess.run([sys.executable, "-c", PROBE.format(root=str(site) + os.sep), *args],
                         capture_output=True, text=True, timeout=60, env=_env(site), cwd=cwd)
    report: dict[str, Any] = json.loads(run.stderr.strip().splitlines()[-1])
    return report


def test_installed_wheel_has_bytecode_for_the_sshd_path(world: dict[str, Any],  # noqa: F811
                                                         installed: dict[str, Any],
                                                         tmp_path: Path) -> None:
    target = installed["site"]
    script = target / "bin" / "keyanchor-ssh"
    run = subprocess.run([sys.executable, str(script), "authorized-keys", "alice"], capture_output=True,
                         text=True, timeout=60, env=_env(target), cwd=tmp_path)
    assert run.returncode == 0 and len(run.stdout.splitlines()) == 3, run.stderr

    report = _probe(target, tmp_path, "authorized-keys", "alice")
    assert report["rc"] == 0
    files = {name: Path(f) for name, f in report["modules"]}
    for module in ("cli.ssh_entry", "registry.gateways._login", "registry.index._open",
                   "registry._grammar", "registry.keys._ssh_wire", "registry.keys._keccak",
                   "registry._errors_core", "registry.index._version"):
        assert module in files, module
    for module in LAZY:  # what a login loads only for a rarer input: compiled at install too
        source = target / module
        native = [source.with_suffix(s) for s in EXTENSION_SUFFIXES if source.with_suffix(s).is_file()]
        assert native or Path(importlib.util.cache_from_source(str(source))).is_file(), module
    for name, source in files.items():
        if source.suffix != ".py":  # a C extension: nothing to compile
            assert name in _login_modules(), source
            continue
        pyc = Path(importlib.util.cache_from_source(str(source)))
        assert pyc.is_file(), f"no bytecode for {source.relative_to(target)}"
        header = pyc.read_bytes()[:16]
        flags, mtime, size = struct.unpack("<III", header[4:16])
        st = source.stat()
        # timestamp-based and current: the interpreter loads it as it is, compiling nothing
        assert flags == 0 and mtime == int(st.st_mtime) & 0xFFFFFFFF and size == st.st_size, source


def test_wheel_compiles_the_login_path(world: dict[str, Any],  # noqa: F811
                                       installed: dict[str, Any], tmp_path: Path) -> None:
    """With a C compiler (and Cython, from the test extra) the wheel holds every module a
    plain login imports as a C extension, beside its source; with them, a login loads no
    keyanchor ``.py`` file but the docstring-only package ``__init__`` files."""
    if _compiler() is None:
        pytest.skip("no C compiler here: the wheel is pure Python (setup.py says so)")
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert installed["wheel"].name.endswith(f"-{sysconfig.get_platform().replace('-', '_')}.whl"), \
        installed["wheel"].name  # a platform wheel
    for module in _login_modules():
        stem = module.replace(".", "/")
        stem += "/__init__" if (REPO / stem).is_dir() else ""
        assert any(stem + s in names for s in EXTENSION_SUFFIXES), f"{module} is not compiled"
        assert stem + ".py" in names, f"{module}'s source is not shipped"

    report = _probe(installed["site"], tmp_path, "authorized-keys", "alice")
    assert report["rc"] == 0
    python = sorted(name for name, f in report["modules"] if f.endswith(".py"))
    assert python == sorted(DOCSTRING_ONLY), \
        "the login compiles these at every uncached start: add them to setup.py's LOGIN_MODULES"
    assert {name for name, _ in report["modules"]} - DOCSTRING_ONLY <= set(_login_modules())


def _setup_names(name: str) -> tuple[str, ...]:
    """A tuple of module names assigned in setup.py, read without running it."""
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == name:
            return tuple(ast.literal_eval(node.value))
    raise AssertionError(f"setup.py has no {name}")


def _probe_compiled(installed: dict[str, Any], group: str, probe: str, tmp_path: Path) -> None:
    """Skip without a C compiler; else check that the wheel holds every module of setup.py's
    ``group`` compiled and that ``probe`` passes in the installed tree (printing the path of
    the compiled module it checked last)."""
    if _compiler() is None:
        pytest.skip("no C compiler here: the wheel is pure Python (setup.py says so)")
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    for module in _setup_names(group):
        stem = module.replace(".", "/")
        assert any(stem + s in names for s in EXTENSION_SUFFIXES), f"{module} is not compiled"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, env=_env(installed["site"]), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith(tuple(EXTENSION_SUFFIXES)), run.stdout  # the C build ran


SCAN_PROBE = """
from datetime import UTC, datetime
import registry.keys._pgp_scan as scan
from registry.keys._pgp_packets import parse_key_packet, scan_certificate
key = bytes([4, 0xFF, 0xFF, 0xFF, 0xFE, 27]) + bytes([9] * 32)  # not of small order
sig = bytes([4, 0x13, 22, 10, 0, 6, 5, 2, 0xFF, 0xFF, 0xFF, 0xF0, 0, 0, 0xAB, 0xCD, 0, 8, 0xFF])
cert = (bytes([0xC6, len(key)]) + key + bytes([0xCD, 13]) + b"a@example.org"
        + bytes([0xC2, len(sig)]) + sig)
summary = scan_certificate(cert)
assert parse_key_packet(6, key).created == datetime.fromtimestamp(0xFFFFFFFE, UTC)
assert summary.primary.created == datetime.fromtimestamp(0xFFFFFFFE, UTC), summary
assert summary.user_ids == (("a@example.org", False, ((0x13, 0xFFFFFFF0, True),)),), summary
assert not hasattr(scan, "_u32"), "compiled without the .pxd's C types"  # a cdef function
print(scan.__file__)
"""


def test_compiled_openpgp_scan_answers_as_the_pure_one(installed: dict[str, Any],
                                                       tmp_path: Path) -> None:
    """The OpenPGP packet scan compiled with its ``.pxd``'s C types (setup.py's
    OPENPGP_MODULES) loads what the source loads: the bench's equivalence corpus (valid,
    armored, keyrings, adversarial, 60 mutations a certificate) through the installed
    wheel and through this tree, each in its own process, gives the same outcome line for
    line (errors and messages, or every field, the scan summary and policy reports), and
    32-bit times with the top bit set read unsigned."""
    import pickle

    from scripts.bench_keys_openpgp import equivalence_inputs

    _probe_compiled(installed, "OPENPGP_MODULES", SCAN_PROBE, tmp_path)

    items = equivalence_inputs(60)
    inputs = tmp_path / "inputs.pickle"
    inputs.write_bytes(pickle.dumps(items))
    outcomes = []
    for tree in (installed["site"], REPO):
        run = subprocess.run([sys.executable, str(REPO / "scripts" / "_openpgp_outcomes.py"),
                              str(tree), str(inputs)], capture_output=True, text=True,
                             timeout=600, env=_env(tree), cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        outcomes.append(run.stdout.splitlines())
    compiled, pure = outcomes
    assert len(compiled) == len(pure) == len(items)
    differ = [items[i][0] for i, (a, b) in enumerate(zip(compiled, pure, strict=True)) if a != b]
    assert differ == []
    assert sum('"err"' in line[:200] for line in pure) > 100  # refusals compared too


ARMOR_PROBE = """
import os, random
import registry.gateways._armor as armor
from registry.gateways import hkp
from registry.keys._crc24 import crc24
assert armor.COMPILED, armor.__file__
assert hkp.armor_certificates_bytes([b"x"]) == armor.armor_public_keys(b"x")  # the compiled writer
rng = random.Random(15)
sizes = [*range(0, 200), 1211, 4096, 70001, *(rng.randrange(1, 20000) for _ in range(200))]
for size in sizes:
    data = os.urandom(size)
    assert armor.armor_public_keys(data) == hkp._armor_py(data).encode("ascii"), size
    assert armor.crc24(data) == crc24(data), size
print(armor.__file__)
"""


def test_compiled_armor_is_the_reference_armor(installed: dict[str, Any], tmp_path: Path) -> None:
    """The HKP armor compiled with its ``.pxd``'s C types (setup.py's GATEWAY_MODULES) writes
    the reference writer's bytes (the same CRC-24) for every size across line and group
    edges and random larger ones, and the HKP body comes from it."""
    _probe_compiled(installed, "GATEWAY_MODULES", ARMOR_PROBE, tmp_path)


def _run(path: Path | str, cwd: Path, *args: str) -> tuple[int, str, str]:
    run = subprocess.run([sys.executable, "-c", "from cli.ssh_entry import _console_main;"
                          " _console_main()", *args], capture_output=True, timeout=60,
                         env=_env(path), cwd=cwd)
    return run.returncode, run.stdout.decode(errors="replace"), run.stderr.decode(errors="replace")


AGE = re.compile(r"\b[0-9]+ s ago")
JUNK = ["bob", "root", "Alice", "a b", "", "-", "..", "../../etc/passwd", "alice@example.org",
        "\x1b[31mroot\nFAKE: accepted", "a" * 5000, "ålice", "xn--alice", "alice.",
        "--help"]


def test_compiled_login_answers_as_the_pure_one(world: dict[str, Any],  # noqa: F811
                                                installed: dict[str, Any], tmp_path: Path,
                                                ssh_keys: Any) -> None:
    site = installed["site"]

    def same(*args: str) -> tuple[int, str, str]:
        """The compiled login's exit code, output and message, the pure one's to the byte
        (but the seconds a stale index has aged between the two runs)."""
        (rc, out, err), pure = _run(site, tmp_path, *args), _run(REPO, tmp_path, *args)
        assert (rc, out, AGE.sub("N s ago", err)) == (pure[0], pure[1], AGE.sub("N s ago", pure[2])), args
        return rc, out, err

    rc, keys, _ = same("authorized-keys", "alice")  # an allowed user with keys
    assert rc == 0 and len(keys.splitlines()) == 3
    assert same("authorized-keys", "root")[:2] == (0, "")  # registered, no keys
    for user in JUNK:  # unknown, not in normal form, hostile
        rc, out, err = same("authorized-keys", user)
        assert out == "" and (rc == 0 or err.startswith("keyanchor-ssh: ")), user
    assert same("authorized-keys")[0] == 2 and same("known-hosts", "x", "y")[0] == 2

    b = Builder(world["index"])  # a user whose one key is revoked
    b.name("carol@example.org")
    b.key("carol@example.org", ssh_keys("c1").text, 1, revoked=True)
    b.close()
    assert same("authorized-keys", "carol") == (0, "", "")

    with sqlite3.connect(world["index"]) as conn:  # material altered, commitment kept
        conn.execute("UPDATE records SET material = ? WHERE idx = 0 AND name_id ="
                     " (SELECT id FROM names WHERE name = 'alice@example.org')",
                     (bytes.fromhex("0000000b7373682d6564323535313900000020") + bytes(32),))
    conn.close()
    rc, altered, _ = same("authorized-keys", "alice")
    assert rc == 0 and altered.splitlines() == keys.splitlines()[1:]  # that record alone is dropped

    with Store.open(world["index"]) as store, store.transaction():  # stale: fails closed
        store.mark_synced(time.time() - 7200)
    rc, out, err = same("authorized-keys", "alice")
    assert (rc, out) == (1, "") and "stale" in err

    world["index"].write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 16)  # corrupt
    rc, out, err = same("authorized-keys", "alice")
    assert (rc, out) == (1, "") and err.startswith("keyanchor-ssh: authorized-keys alice: ")


PATCHED = """
import sys
import registry.keys._keccak as keccak
keccak.commitment_matches = lambda *args: False  # every record now fails its re-hash
from cli.ssh_entry import main
sys.exit(main(["authorized-keys", "alice"]))
"""


def test_compiled_login_looks_its_checks_up_at_run_time(world: dict[str, Any],  # noqa: F811
                                                        installed: dict[str, Any],
                                                        tmp_path: Path) -> None:
    """Module globals stay dynamic once compiled (Cython, unlike mypyc's early binding): a
    check replaced in its module is the one the login calls, as in CPython."""
    for path in (installed["site"], REPO):
        run = subprocess.run([sys.executable, "-c", PATCHED], capture_output=True, text=True,
                             timeout=60, env=_env(path), cwd=tmp_path)
        assert (run.returncode, run.stdout) == (0, ""), (path, run.stderr)


def _tree_copy(dst: Path) -> Path:
    """This checkout's tracked files (and setup.py) copied to ``dst``, without build/."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in [*files, "setup.py"]:
        if name and (REPO / name).is_file() and not name.startswith(("node_modules/", "build/")):
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dst / name)
    return dst


BACKEND = "import sys; from setuptools import build_meta as b; print(getattr(b, sys.argv[1])('out'))"


def test_editable_and_compilerless_builds_are_pure_python(tmp_path: Path) -> None:
    """``pip install -e .`` (PEP 660 ``editable_wheel``) never leaves a compiled module
    beside the sources; a build whose compiler fails says so in one line and installs pure
    Python; ``KEYANCHOR_NATIVE=1`` then fails instead."""
    tree = _tree_copy(tmp_path / "tree")
    env = {k: v for k, v in os.environ.items() if k != "KEYANCHOR_NATIVE"}

    def backend(hook: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", BACKEND, hook], capture_output=True,
                              text=True, timeout=300, cwd=tree, env={**env, **extra})

    run = backend("build_editable")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1].endswith("-py3-none-any.whl")
    assert "keyanchor: editable install: pure Python" in run.stderr
    built = [p for p in tree.rglob("*") if p.suffix in (".so", ".pyd", ".c")]
    assert built == [], built

    run = backend("build_wheel", CC="false")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1].endswith("-py3-none-any.whl")
    (line,) = [x for x in run.stderr.splitlines() if x.startswith("keyanchor: ")]
    assert "no working C compiler" in line and line.endswith("installs as pure Python")
    wheel = next((tree / "out").glob("*-py3-none-any.whl"))
    assert not [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".so")]

    run = backend("build_wheel", CC="false", KEYANCHOR_NATIVE="1")
    assert run.returncode != 0 and "KEYANCHOR_NATIVE=1 but no working C compiler" in run.stderr
