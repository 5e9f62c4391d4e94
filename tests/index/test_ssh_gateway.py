"""The SSH gateway and the light ``keyanchor-ssh`` entry point, on indexes built with the store API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from registry.errors import IndexUnavailable, InvalidName
from registry.gateways.ssh import (
    SSHSettings,
    authorized_keys,
    known_hosts,
    load_ssh_settings,
    registry_name_for_user,
)
from registry.index._query import IndexReader
from registry.index._store import Event, ParsedKey, Store
from registry.keys import load_ssh_public_key
from registry.names import namehash

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("web3", "eth_abi", "eth_utils", "eth_account", "eth_typing", "pydantic", "typer",
             "rich", "click", "cryptography", "Crypto", "requests", "aiohttp")
ZERO = b"\x00" * 32


class Builder:
    """Writes names and SSH records straight into a Store (no chain)."""

    def __init__(self, path: Path) -> None:
        self.store = Store.open(path)
        self.block = 1
        self.counts: dict[str, int] = {}

    def _ev(self, kind: str, node: bytes, data: dict[str, Any], parsed: ParsedKey | None = None) -> None:
        self.store.apply(Event(kind, self.block, 0, b"\x01" * 32, node, 1_700_000_000, data, parsed))
        self.block += 1

    def name(self, text: str, *, parent: str | None = None) -> None:
        """Register ``text``: top-level when it has one dot (or ``parent=""``), else a child
        of the rest of the name (or of ``parent``, e.g. ``example.org`` under ``org``)."""
        with self.store.transaction():
            if "@" in text:
                label, _, parent = text.partition("@")
                person = True
            elif parent is not None:
                label = text.removesuffix("." + parent) if parent else text
                person = False
            elif text.count(".") > 1:
                label, _, parent = text.partition(".")
                person = False
            else:
                label, parent, person = text, "", False
            self._ev("NameRegistered", bytes(namehash(text)),
                     {"name": text, "parent": bytes(namehash(parent)) if parent else ZERO,
                      "person": person, "owner": "0x" + "11" * 20, "label": label})

    def key(self, name: str, pub: str, purposes: int, *, valid_until: int = 0, revoked: bool = False,
            policy: str = "pass") -> None:
        key = load_ssh_public_key(pub)
        node = bytes(namehash(name))
        idx = self.counts.get(name, 0)
        self.counts[name] = idx + 1
        with self.store.transaction():
            self._ev("KeyPublished", node,
                     {"index": idx, "commitment": key.commitment, "key_type": 1, "purposes": purposes,
                      "valid_from": 0, "valid_until": valid_until, "durable": False,
                      "material": key.material, "proof": b""},
                     ParsedKey(key.algorithm, (key.fingerprint,), (), policy, "test"))
            if revoked:
                self._ev("KeyRevoked", node, {"index": idx, "commitment": key.commitment, "reason": 1})
            self.store.mark_synced()

    def raw(self, name: str, material: bytes, purposes: int, *, revoked: bool = False,
            policy: str = "pass") -> None:
        """A record with arbitrary material (the contract accepts any bytes)."""
        from registry.keys import commitment

        node = bytes(namehash(name))
        idx = self.counts.get(name, 0)
        self.counts[name] = idx + 1
        with self.store.transaction():
            self._ev("KeyPublished", node,
                     {"index": idx, "commitment": commitment(1, material), "key_type": 1,
                      "purposes": purposes, "valid_from": 0, "valid_until": 0, "durable": False,
                      "material": material, "proof": b""},
                     ParsedKey("unparsable", (), (), policy, "test"))
            if revoked:
                self._ev("KeyRevoked", node, {"index": idx, "commitment": commitment(1, material),
                                               "reason": 1})
            self.store.mark_synced()

    def renounce(self, child: str, parent: str) -> None:
        with self.store.transaction():
            self._ev("ChildRenounced", bytes(namehash(child)), {"parent": bytes(namehash(parent))})
            self.store.mark_synced()

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def world(safe_tmp: Path, ssh_keys: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    index = safe_tmp / "index.sqlite"
    config = safe_tmp / "config.toml"
    config.write_text(f'[ssh]\nuser_template = "{{user}}@example.org"\nusers = {{ root = "admin@example.org" }}\n'
                      f'[index]\npath = "{index}"\n')
    monkeypatch.setenv("KEYANCHOR_CONFIG", str(config))
    monkeypatch.delenv("KEYANCHOR_INDEX", raising=False)
    b = Builder(index)
    for n in ("example.org", "alice@example.org", "admin@example.org", "web1.example.org"):
        b.name(n)
    keys = {s: ssh_keys(s).text for s in ("a1", "a2", "a3", "a4", "a5", "ca", "h1", "h2", "hca")}
    b.key("alice@example.org", keys["a1"], 1)                                  # active
    b.key("alice@example.org", keys["a2"], 1, revoked=True)                    # revoked
    b.key("alice@example.org", keys["a3"], 1, valid_until=int(time.time()) - 5)  # expired
    b.key("alice@example.org", keys["a4"], 1, policy="fail")                   # fails the policy
    b.key("alice@example.org", keys["a5"], 1, valid_until=int(time.time()) + 86400)
    b.key("alice@example.org", keys["ca"], 1 | 64)                             # user CA
    b.key("alice@example.org", keys["h1"], 2)                                  # not ssh-user
    b.key("web1.example.org", keys["h1"], 2)
    b.key("web1.example.org", keys["h2"], 2, revoked=True)
    b.key("web1.example.org", keys["hca"], 2 | 64)
    b.close()
    return {"index": index, "config": config, "keys": keys}


def _blob(pub: str) -> str:
    return " ".join(pub.split()[:2])


def test_authorized_keys_lines(world: dict[str, Any]) -> None:
    keys = world["keys"]
    lines = authorized_keys("alice").splitlines()
    assert len(lines) == 3
    assert lines[0] == f"{_blob(keys['a1'])} alice@example.org"
    assert lines[1].startswith('expiry-time="') and _blob(keys["a5"]) in lines[1]
    assert lines[2] == f'cert-authority,principals="alice" {_blob(keys["ca"])} alice@example.org'
    assert authorized_keys("root") == ""  # admin@example.org: registered, no keys


def test_known_hosts_lines(world: dict[str, Any]) -> None:
    keys = world["keys"]
    lines = known_hosts("web1.example.org").splitlines()
    assert lines == [
        f"@revoked web1.example.org {_blob(keys['h2'])} web1.example.org",
        f"web1.example.org {_blob(keys['h1'])} web1.example.org",
        f"@cert-authority web1.example.org {_blob(keys['hca'])} web1.example.org",
    ]
    assert known_hosts("unknown.example.org") == ""
    assert known_hosts("[127.0.0.1]:22") == ""


def test_user_mapping(world: dict[str, Any]) -> None:
    s = load_ssh_settings()
    assert registry_name_for_user("root", s) == "admin@example.org"
    assert registry_name_for_user("bob", s) == "bob@example.org"
    assert registry_name_for_user("first.last", s) == "first.last@example.org"
    with pytest.raises(InvalidName):
        registry_name_for_user("Bob", s)  # not folded: only the normal form maps
    with pytest.raises(InvalidName):
        registry_name_for_user("a b", s)
    with pytest.raises(InvalidName):
        registry_name_for_user("bob", SSHSettings(world["index"]))


def test_settings_agree_with_registry_config(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from registry.config import load_config

    assert load_ssh_settings().index_path == load_config().index_path()
    world["config"].write_text("[ssh]\nmax_staleness = 60\n")
    assert load_ssh_settings().index_path == load_config().index_path()
    monkeypatch.setenv("KEYANCHOR_INDEX", "/x/y.sqlite")
    assert load_ssh_settings().index_path == load_config().index_path() == Path("/x/y.sqlite")


def test_fails_closed(world: dict[str, Any], safe_tmp: Path) -> None:
    s = load_ssh_settings()
    missing = SSHSettings(safe_tmp / "nope.sqlite", "{user}@example.org")
    with pytest.raises(IndexUnavailable, match="no index"):
        authorized_keys("alice", missing)
    corrupt = safe_tmp / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    with pytest.raises(IndexUnavailable):
        authorized_keys("alice", SSHSettings(corrupt, "{user}@example.org"))
    stale = SSHSettings(s.index_path, "{user}@example.org", max_staleness=1)
    with Store.open(s.index_path) as store, store.transaction():
        store.mark_synced(time.time() - 10)
    with pytest.raises(IndexUnavailable, match="stale"):
        authorized_keys("alice", stale)


def _entry(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from cli.ssh_entry import main; rc = main(sys.argv[1:]);"
            f" bad = [m for m in {FORBIDDEN!r} if m in sys.modules];"
            " print('FORBIDDEN', bad, file=sys.stderr); raise SystemExit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=REPO)


def test_light_entry_point_imports_nothing_heavy(world: dict[str, Any]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = _entry(["authorized-keys", "alice"], env)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert "FORBIDDEN []" in result.stderr
    result = _entry(["known-hosts", "web1.example.org"], env)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3
    assert "FORBIDDEN []" in result.stderr


def test_light_entry_point_fails_closed(world: dict[str, Any]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = _entry(["authorized-keys", "no body"], env)
    assert (result.returncode, result.stdout) == (1, "")
    missing = world["index"].parent / "x"
    result = _entry(["authorized-keys", "alice"], {**env, "KEYANCHOR_INDEX": str(missing)})
    assert (result.returncode, result.stdout) == (1, "")
    assert "no index" in result.stderr
    world["config"].write_text("[ssh\n")
    result = _entry(["authorized-keys", "alice"], env)
    assert (result.returncode, result.stdout) == (1, "")
    assert _entry(["authorized-keys"], env).returncode == 2


def test_light_entry_point_escapes_what_it_did_not_write(world: dict[str, Any]) -> None:
    """A user or host name with an escape sequence or a newline reaches sshd's log escaped,
    on one line, and cut short when it is long."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for command, subject in (("authorized-keys", "\x1b[31mroot\nFAKE: accepted"),
                             ("authorized-keys", "web1\x1b]0;t\x07.example.org"),
                             ("authorized-keys", "\x1b" + "a" * 5000)):
        result = _entry([command, subject], env)
        assert (result.returncode, result.stdout) == (1, "")
        line = result.stderr.splitlines()[0]
        assert line.startswith(f"keyanchor-ssh: {command} ")
        assert r"\x1b" in line  # shown escaped ...
        assert line.isprintable() and len(line) < 1400  # ... never raw, and cut short
        assert result.stderr.count("\n") == 2  # the error line and the test's FORBIDDEN line


# --------------------------------------------------------------------------- host CAs of ancestors


@pytest.fixture
def family(safe_tmp: Path, ssh_keys: Any) -> dict[str, Any]:
    """Host CAs on parent domains.

    example.org (top-level): an active CA, a revoked CA, an expired CA, a
    policy-failing CA, a plain host key. web1.example.org (child): its own host
    key and its own CA. org: registered top-level *after* example.org by
    someone else (so no authority over it), with a CA. net -> example.net ->
    web1.example.net (assigned down from net), and free.example.net renounced.
    """
    index = safe_tmp / "family.sqlite"
    b = Builder(index)
    keys = {s: ssh_keys(s).text for s in (
        "oca", "oca_rev", "oca_exp", "oca_fail", "ohost", "w1host", "w1ca", "squat", "netca", "enca")}
    b.name("example.org")
    b.name("web1.example.org")
    b.name("org")
    b.name("net")
    b.name("example.net", parent="net")
    b.name("web1.example.net")
    b.name("free.example.net")
    b.key("example.org", keys["oca"], 2 | 64)
    b.key("example.org", keys["oca_rev"], 2 | 64, revoked=True)
    b.key("example.org", keys["oca_exp"], 2 | 64, valid_until=int(time.time()) - 5)
    b.key("example.org", keys["oca_fail"], 2 | 64, policy="fail")
    b.key("example.org", keys["ohost"], 2)                       # a plain host key of the parent
    b.key("web1.example.org", keys["w1host"], 2)
    b.key("web1.example.org", keys["w1ca"], 2 | 64)
    b.key("org", keys["squat"], 2 | 64)
    b.key("net", keys["netca"], 2 | 64)
    b.key("example.net", keys["enca"], 2 | 64)
    b.renounce("free.example.net", "example.net")
    b.close()
    return {"settings": SSHSettings(index), "keys": keys, "index": index}


def _hosts(host: str, fam: dict[str, Any]) -> list[str]:
    return known_hosts(host, fam["settings"]).splitlines()


def test_parent_domain_host_ca_covers_the_host(family: dict[str, Any]) -> None:
    k = family["keys"]
    assert _hosts("web1.example.org", family) == [
        f"@revoked web1.example.org {_blob(k['oca_rev'])} example.org",
        f"web1.example.org {_blob(k['w1host'])} web1.example.org",
        f"@cert-authority web1.example.org {_blob(k['w1ca'])} web1.example.org",
        f"@cert-authority web1.example.org {_blob(k['oca'])} example.org",
    ]
    text = "\n".join(_hosts("web1.example.org", family))
    for stem in ("ohost", "oca_exp", "oca_fail", "squat"):
        assert _blob(k[stem]) not in text, stem  # plain parent key, expired, failing, squatter


def test_unregistered_hosts_use_their_nearest_registered_ancestor(family: dict[str, Any]) -> None:
    k = family["keys"]
    # not registered: example.org is the only name that could create it
    assert _hosts("web9.example.org", family) == [
        f"@revoked web9.example.org {_blob(k['oca_rev'])} example.org",
        f"@cert-authority web9.example.org {_blob(k['oca'])} example.org",
    ]
    # deeper: web1.example.org's CA first, then example.org's; never web1's plain key
    assert _hosts("db.web1.example.org", family) == [
        f"@revoked db.web1.example.org {_blob(k['oca_rev'])} example.org",
        f"@cert-authority db.web1.example.org {_blob(k['w1ca'])} web1.example.org",
        f"@cert-authority db.web1.example.org {_blob(k['oca'])} example.org",
    ]
    # example.org itself: its own keys only (org registered later has no authority over it)
    own = _hosts("example.org", family)
    assert f"example.org {_blob(k['ohost'])} example.org" in own
    assert not any(_blob(k["squat"]) in line for line in own)
    # a host under nothing registered but org: org's owner could create it, so org's CA applies
    assert _hosts("www.example.com.org", family) == [
        f"@cert-authority www.example.com.org {_blob(k['squat'])} org"]
    assert _hosts("unknown.example", family) == []


def test_ancestors_follow_registry_links_and_stop_at_renounced(family: dict[str, Any]) -> None:
    k = family["keys"]
    assert _hosts("web1.example.net", family) == [
        f"@cert-authority web1.example.net {_blob(k['enca'])} example.net",
        f"@cert-authority web1.example.net {_blob(k['netca'])} net",
    ]
    # example.net renounced free.example.net: neither it nor net speak for that subtree
    assert _hosts("free.example.net", family) == []
    assert _hosts("a.free.example.net", family) == []
    with IndexReader.open(family["index"]) as ix:
        assert ix.authorities("a.b.web1.example.net") == ["web1.example.net", "example.net", "net"]
        assert ix.authorities("web1.example.org") == ["example.org"]
        assert ix.authorities("a.free.example.net") == ["free.example.net"]
        assert ix.authorities("alice@example.org") == []
        assert [r.name for r in ix.host_cas("x.web1.example.org")] == [
            "web1.example.org", "example.org", "example.org", "example.org", "example.org"]


def test_revoked_parent_ca_is_served_as_revoked_once_synced(family: dict[str, Any]) -> None:
    k = family["keys"]
    with Store.open(family["index"]) as store, store.transaction():
        key = load_ssh_public_key(k["oca"])
        store.apply(Event("KeyRevoked", 999, 0, b"\x02" * 32, bytes(namehash("example.org")),
                          1_700_000_100, {"index": 0, "commitment": key.commitment, "reason": 2}))
        store.mark_synced()
    lines = _hosts("web9.example.org", family)
    assert f"@revoked web9.example.org {_blob(k['oca'])} example.org" in lines
    assert not any(line.startswith("@cert-authority") for line in lines)


# --------------------------------------------------------------------------- hardening (issue 10)


def _cfg(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o644)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("[ssh]\nmax_staleness = nan\n", "max_staleness must be a positive, finite number"),
    ("[ssh]\nmax_staleness = inf\n", "max_staleness must be a positive, finite number"),
    ("[ssh]\nmax_staleness = -5\n", "max_staleness must be a positive, finite number"),
    ("[ssh]\nmax_staleness = 0\n", "max_staleness must be a positive, finite number"),
    ("[ssh]\nmax_staleness = true\n", "max_staleness must be a positive, finite number"),
    ('[ssh]\nmax_staleness = "60"\n', "max_staleness must be a positive, finite number"),
    ("[ssh]\nmax_staleness = 1" + "0" * 400 + "\n",  # beyond any float: no OverflowError
     "max_staleness must be a positive, finite number"),
    ("[index]\npath = 5\n", "[index] path must be a file path"),
    ('[index]\npath = ""\n', "[index] path must be a file path"),
    ('[index]\npath = "relative/index.sqlite"\n', "must be an absolute path"),
    ("index = 5\n", "[index] must be a table"),
    ("ssh = 5\n", "[ssh] must be a table"),
    ("[ssh]\nusers = 5\n", "users must map local user names"),
    ('[ssh]\nusers = { root = 5 }\n', "users must map local user names"),
    ('[ssh]\nusers = { root = "127.0.0.1" }\n', "is a number"),
    ("[ssh]\nuser_template = 5\n", "user_template must be a string containing {user}"),
    ('[ssh]\nuser_template = "{user}@{user}.org"\n', "user_template must be a string containing {user}"),
    ('[ssh]\nuser_template = "{user}@Example.org"\n', "normal form"),
    ('[ssh]\nallow_unchecked = "false"\n', "allow_unchecked must be true or false"),
    ("[ssh]\nmax_stalenes = 60\n", "unknown setting(s) max_stalenes"),
    ('[index]\nowner = "no-such-user-here"\n', "no such user"),
    ("[index]\nowner = 1.5\n", "owner must be a user name or a uid"),
])
def test_bad_settings_are_one_line_errors(safe_tmp: Path, text: str, message: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`max_staleness = nan` silently disabled the staleness check and `[index] path = 5` was
    ignored: every [ssh] / [index] value is now checked, with a one-line error."""
    from registry.errors import ConfigError

    monkeypatch.delenv("KEYANCHOR_INDEX", raising=False)
    cfg = _cfg(safe_tmp / "config.toml", text)
    with pytest.raises(ConfigError) as info:
        load_ssh_settings(cfg)
    assert message in str(info.value) and "\n" not in str(info.value)
    env = {**os.environ, "PYTHONPATH": str(REPO), "KEYANCHOR_CONFIG": str(cfg)}
    result = _entry(["authorized-keys", "alice"], env)
    assert (result.returncode, result.stdout) == (1, "")
    assert message in result.stderr and "Traceback" not in result.stderr


def test_good_settings(safe_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYANCHOR_INDEX", raising=False)
    cfg = _cfg(safe_tmp / "config.toml", '[ssh]\nuser_template = "{user}@example.org"\n'
               'users = { root = "Admin@Example.org" }\nmax_staleness = 90.5\n'
               'allow_unchecked = true\n[index]\npath = "/var/lib/keyanchor/index.sqlite"\n'
               "owner = 0\n")
    s = load_ssh_settings(cfg)
    assert s == SSHSettings(Path("/var/lib/keyanchor/index.sqlite"), "{user}@example.org",
                            {"root": "admin@example.org"}, 90.5, True, True, 0)


def test_strict_modes_on_config_and_index(safe_tmp: Path, tmp_path: Path) -> None:
    """sshd's StrictModes rules: trusted owner, not group/world-writable, no symlink, and the
    same for every directory on the way (a symlinked directory is followed and checked)."""
    from registry.errors import ConfigError
    from registry.gateways._modes import check_secure_file

    me = {0, os.geteuid()}
    good = _cfg(safe_tmp / "c.toml", "")
    check_secure_file(good, trusted=me, what="x")
    (safe_tmp / "sub").mkdir(mode=0o755)
    (safe_tmp / "dirlink").symlink_to(safe_tmp / "sub")
    _cfg(safe_tmp / "sub" / "c.toml", "")
    check_secure_file(safe_tmp / "dirlink" / "c.toml", trusted=me, what="x")
    check_secure_file(safe_tmp / "sub" / ".." / "c.toml", trusted=me, what="x")
    (safe_tmp / "filelink").symlink_to(good)
    bad = {
        safe_tmp / "filelink": "symbolic link",
        _cfg(safe_tmp / "gw.toml", "") : "group- or world-writable",
        _cfg(tmp_path / "tmp.toml", ""): "group- or world-writable",   # under /tmp (1777)
        safe_tmp: "not a regular file",
    }
    (safe_tmp / "gw.toml").chmod(0o664)
    (safe_tmp / "tmplink").symlink_to(tmp_path)  # a link into /tmp is checked where it leads
    bad[safe_tmp / "tmplink" / "tmp.toml"] = "group- or world-writable"
    for path, why in bad.items():
        with pytest.raises(ConfigError, match=why):
            check_secure_file(path, trusted=me, what="the configuration")
    with pytest.raises(ConfigError, match="bad ownership"):
        check_secure_file(good, trusted={12345}, what="the configuration")
    with pytest.raises(FileNotFoundError):
        check_secure_file(safe_tmp / "missing.toml", trusted=me, what="x")
    # through load_ssh_settings and the index
    (safe_tmp / "gw.toml").write_text("[ssh]\n")
    with pytest.raises(ConfigError, match="group- or world-writable"):
        load_ssh_settings(safe_tmp / "gw.toml")
    assert load_ssh_settings(safe_tmp / "gw.toml", strict_modes=False).strict_modes is False
    loose = SSHSettings(tmp_path / "index.sqlite", "{user}@example.org")
    with pytest.raises(IndexUnavailable, match="refusing the index"):
        authorized_keys("alice", loose)


@pytest.mark.parametrize(("user", "name"), [
    ("alice", "alice@example.org"), ("first.last", "first.last@example.org"),
    ("a_b", "a_b@example.org"), ("x-1", "x-1@example.org"),
    ("ALICE", None), ("Alice", None), ("\uff41lice", None), ("alice ", None), ("", None),
    ("a@b", None), ("a..b", None), (".a", None), ("\u212aelly", None), ("é", None),
])
def test_user_names_map_only_in_normal_form(user: str, name: str | None) -> None:
    """`ALICE` got alice@example.org's keys (case folding); fullwidth and other spellings were
    normalised onto someone else's name. Only the exact normal form maps now."""
    s = SSHSettings(Path("/nonexistent"), "{user}@example.org")
    if name is None:
        with pytest.raises(InvalidName, match="normal form"):
            registry_name_for_user(user, s)
    else:
        assert registry_name_for_user(user, s) == name


@pytest.mark.parametrize(("user", "name"), [
    ("a", "a.users.example.org"), ("xn--zca", "xn--zca.users.example.org"),
    ("\uff41", None), ("\u00df", None), ("\u1e9e", None), ("A", None), ("a.b", None),
    ("a_b", None), ("-a", None), ("a@b", None),
])
def test_user_names_through_a_label_template(user: str, name: str | None) -> None:
    s = SSHSettings(Path("/nonexistent"), "{user}.users.example.org")
    if name is None:
        with pytest.raises(InvalidName):
            registry_name_for_user(user, s)
    else:
        assert registry_name_for_user(user, s) == name


@pytest.mark.parametrize(("text", "parsed"), [
    ("web1.example.org", ("web1.example.org", "web1.example.org")),
    ("Web1.Example.org", ("web1.example.org", "web1.example.org")),
    # ssh matches the pattern against %H as it gave it: a root dot stays in the pattern
    ("web1.example.org.", ("web1.example.org", "web1.example.org.")),
    ("[Web1.example.org.]:2222", ("web1.example.org", "[web1.example.org.]:2222")),
    ("[web1.example.org]:022", ("web1.example.org", "web1.example.org")),
    ("b\u00fccher.example.org", ("xn--bcher-kva.example.org", "xn--bcher-kva.example.org")),
    ("[web1.example.org]:2222", ("web1.example.org", "[web1.example.org]:2222")),
    ("[web1.example.org]:22", ("web1.example.org", "web1.example.org")),
    ("[web1.example.org]:0", None), ("[web1.example.org]:65536", None),
    ("web1.example.org:2222", None), ("[web1.example.org]", None), ("[[a.org]]:22", None),
    ("127.0.0.1", None), ("[127.0.0.1]:2222", None), ("[::1]:2222", None), ("::1", None),
    ("alice@example.org", None), ("[alice@example.org]:22", None),
])
def test_known_hosts_argument(text: str, parsed: tuple[str, str] | None) -> None:
    from registry.gateways.ssh import parse_known_host

    assert parse_known_host(text) == parsed


def test_unparsable_or_altered_records_are_skipped_one_by_one(world: dict[str, Any]) -> None:
    """One record that does not parse (or whose material no longer hashes to its commitment)
    made the whole answer fail; now only that record is left out."""
    keys = world["keys"]
    before_hosts = known_hosts("web1.example.org")
    before_keys = authorized_keys("alice")
    b = Builder(world["index"])
    b.block = 10_000
    b.counts = {n: len(b.store.records_raw(bytes(namehash(n))))
                for n in ("web1.example.org", "example.org", "alice@example.org")}
    junk = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20short"
    b.raw("web1.example.org", junk, 2)
    b.raw("web1.example.org", junk + b"r", 2, revoked=True)
    b.raw("example.org", junk + b"ca", 2 | 64)
    b.raw("alice@example.org", junk + b"u", 1)
    b.raw("alice@example.org", junk + b"c", 1 | 64, policy="fail")
    b.close()
    assert known_hosts("web1.example.org") == before_hosts
    assert known_hosts("db.web1.example.org").count("@cert-authority") == 1
    assert authorized_keys("alice") == before_keys
    # alter the stored material of alice's first key without its commitment
    import sqlite3

    with sqlite3.connect(world["index"]) as conn:
        conn.execute("UPDATE records SET material = ? WHERE idx = 0 AND name_id ="
                     " (SELECT id FROM names WHERE name = 'alice@example.org')",
                     (load_ssh_public_key(keys["a2"]).material,))
    conn.close()
    lines = authorized_keys("alice").splitlines()
    assert len(lines) == 2 and not any(_blob(keys["a1"]) in x or _blob(keys["a2"]) in x for x in lines)


def test_squatters_serve_nothing_and_the_domain_ca_covers_them(safe_tmp: Path, ssh_keys: Any) -> None:
    """web1.corp.org registered top-level by Mallory, corp.org later by Corp: Mallory's host
    keys, host CA and person names under it are never served; corp.org's CA covers the host."""
    index = safe_tmp / "squat.sqlite"
    b = Builder(index)
    k = {s: ssh_keys(s).text for s in ("m_host", "m_ca", "m_user", "c_ca", "c_host")}
    b.name("web1.corp.org", parent="")
    b.name("bob@web1.corp.org")
    b.key("web1.corp.org", k["m_host"], 2)
    b.key("web1.corp.org", k["m_ca"], 2 | 64)
    b.key("bob@web1.corp.org", k["m_user"], 1)
    b.store.publish()  # what readers see so far
    s = SSHSettings(index, "{user}@web1.corp.org")
    assert _blob(k["m_host"]) in known_hosts("web1.corp.org", s)  # first come, first served
    assert _blob(k["m_user"]) in authorized_keys("bob", s)
    b.name("corp.org")
    b.name("mail.corp.org")
    b.key("corp.org", k["c_ca"], 2 | 64)
    b.key("mail.corp.org", k["c_host"], 2)
    b.close()
    ca_line = f"@cert-authority web1.corp.org {_blob(k['c_ca'])} corp.org"
    assert known_hosts("web1.corp.org", s).splitlines() == [ca_line]
    assert known_hosts("db.web1.corp.org", s).splitlines() == [ca_line.replace("web1.", "db.web1.", 1)]
    assert f"mail.corp.org {_blob(k['c_host'])}" in known_hosts("mail.corp.org", s)
    with pytest.raises(InvalidName, match="squatting"):
        authorized_keys("bob", s)
    with IndexReader.open(index) as ix:
        assert ix.authorities("db.web1.corp.org") == ["corp.org"]
        assert ix.squatted_by("bob@web1.corp.org") == "corp.org"
        assert ix.name_problem("corp.org") is None


@pytest.mark.parametrize("dirname", ["plain", "a b", "q?x", "h#x", "p%41", "é✓", "semi;colon=eq"])
def test_snapshot_uri_is_pathlibs(world: dict[str, Any], tmp_path: Any, dirname: str) -> None:
    """sshd's path builds the SQLite file URI without pathlib: the same URI as
    ``Path.resolve().as_uri()``, and the index opens through it from any directory name."""
    import shutil

    from registry.index._open import _file_uri
    from registry.index._snapshot import SnapshotReader

    d = tmp_path / dirname
    d.mkdir()
    target = d / "index.sqlite"
    shutil.copyfile(world["index"], target)
    link = tmp_path / f"link-{len(dirname)}"
    link.symlink_to(d)
    for p in (target, link / "index.sqlite"):
        assert _file_uri(str(p)) == p.resolve().as_uri()
        with SnapshotReader.open(p) as ix:
            assert [r.name for r in ix.records("alice@example.org")]
            assert ix.path == p


def test_settings_index_path_reads_as_a_path(tmp_path: Any) -> None:
    """SSHSettings keeps the index path as given (sshd's path imports no pathlib) and hands
    out a Path; equality, replace, copy and pickling see the same value."""
    import copy
    import pickle
    from pathlib import Path

    from registry.gateways.ssh import SSHSettings

    s = SSHSettings(str(tmp_path / "i.sqlite"), users={"a": "a@example.org"})
    assert isinstance(s.index_path, Path) and s.index_path == tmp_path / "i.sqlite"
    assert s == SSHSettings(tmp_path / "i.sqlite", users={"a": "a@example.org"})
    assert s != SSHSettings(tmp_path / "j.sqlite", users={"a": "a@example.org"})
    assert pickle.loads(pickle.dumps(s)) == s and copy.deepcopy(s) == s
    moved = s.replace(index_path=tmp_path / "k.sqlite", max_staleness=5)
    assert moved.index_path == tmp_path / "k.sqlite" and moved.max_staleness == 5
    assert f"index_path={tmp_path / 'i.sqlite'!r}" in repr(s)
