"""A normal (non-editable) install leaves compiled bytecode for the sshd path (issue 15).

sshd starts ``keyanchor-ssh`` on every login; without ``.pyc`` files beside
the modules it imports, every login compiles them again (and, run as an
unprivileged ``AuthorizedKeysCommandUser``, can never cache the result). The
test builds the wheel the way a release does, installs it with pip's
defaults, runs the installed ``keyanchor-ssh`` on an index, and checks that
every keyanchor module it imported has valid bytecode from the install.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.index.test_ssh_gateway import world  # noqa: F401 -- the fixture

REPO = Path(__file__).resolve().parents[2]

#: Modules split off the login's own, loaded only for a rarer input (a name not in normal
#: form, a refusal, another key type): their bytecode must be installed all the same.
LAZY = ("registry/_grammar_parse.py", "registry/keys/_ssh_formats.py", "registry/keys/_ssh_checks.py",
        "registry/keys/_ssh_options.py", "registry/gateways/_toml_inline.py")

PROBE = """
import importlib.util, json, sys
from cli.ssh_entry import main
rc = main(sys.argv[1:])
root = {root!r}
files = sorted(m.__file__ for m in list(sys.modules.values())
               if (getattr(m, "__file__", None) or "").startswith(root))
print(json.dumps({{"rc": rc, "files": files,
                  "cached": [importlib.util.cache_from_source(f) for f in files]}}), file=sys.stderr)
"""


def _pip(*args: str, cwd: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                         timeout=600, cwd=cwd, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert run.returncode == 0, run.stdout + run.stderr


def test_installed_wheel_has_bytecode_for_the_sshd_path(world: dict[str, Any],  # noqa: F811
                                                         tmp_path: Path) -> None:
    _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(REPO),
         cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("keyanchor-*.whl")
    target = tmp_path / "site"
    _pip("install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel), cwd=tmp_path)

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONPYCACHEPREFIX")}
    env.update(PYTHONPATH=str(target), PYTHONDONTWRITEBYTECODE="1")
    script = target / "bin" / "keyanchor-ssh"
    run = subprocess.run([sys.executable, str(script), "authorized-keys", "alice"], capture_output=True,
                         text=True, timeout=60, env=env, cwd=tmp_path)
    assert run.returncode == 0 and len(run.stdout.splitlines()) == 3, run.stderr

    probe = subprocess.run([sys.executable, "-c", PROBE.format(root=str(target) + os.sep),
                            "authorized-keys", "alice"], capture_output=True, text=True, timeout=60,
                           env=env, cwd=tmp_path)
    report = json.loads(probe.stderr.strip().splitlines()[-1])
    assert report["rc"] == 0
    files = [Path(f) for f in report["files"]]
    for module in ("cli/ssh_entry.py", "registry/gateways/_login.py", "registry/index/_open.py",
                   "registry/_grammar.py", "registry/keys/_ssh_wire.py", "registry/keys/_keccak.py",
                   "registry/_errors_core.py", "registry/index/_version.py"):
        assert target / module in files, module
    for module in LAZY:  # what a login loads only for a rarer input: compiled at install too
        source = target / module
        assert Path(importlib.util.cache_from_source(str(source))).is_file(), module
    for source, cached in zip(files, report["cached"], strict=True):
        pyc = Path(cached)
        assert pyc.is_file(), f"no bytecode for {source.relative_to(target)}"
        header = pyc.read_bytes()[:16]
        flags, mtime, size = struct.unpack("<III", header[4:16])
        st = source.stat()
        # timestamp-based and current: the interpreter loads it as it is, compiling nothing
        assert flags == 0 and mtime == int(st.st_mtime) & 0xFFFFFFFF and size == st.st_size, source
