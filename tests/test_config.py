"""Configuration file, environment overrides and atomic saves."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.config import load_config, save_config
from registry.errors import ConfigError


def test_defaults_to_embedded(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "missing.toml")
    net = cfg.network()
    assert net.embedded and net.name == "embedded"
    assert net.state is not None and net.state.name == "chain.db"


def test_add_use_save_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    cfg = load_config(path)
    cfg.add_network("local", "http://127.0.0.1:8545", registry="0x" + "11" * 20, chain_id=31337)
    cfg.use_network("local")
    save_config(cfg)
    again = load_config(path)
    net = again.network()
    assert (net.name, net.url, net.registry, net.chain_id) == (
        "local", "http://127.0.0.1:8545", "0x" + "11" * 20, 31337)


def test_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    cfg = load_config(path)
    cfg.add_network("local", "http://127.0.0.1:8545")
    cfg.use_network("local")
    monkeypatch.setenv("KEYANCHOR_NETWORK", "embedded")
    assert cfg.network().embedded
    monkeypatch.setenv("KEYANCHOR_RPC_URL", "http://127.0.0.1:9999")
    assert cfg.network().url == "http://127.0.0.1:9999"
    assert cfg.network("local").url == "http://127.0.0.1:8545"  # a flag beats the env


@pytest.mark.parametrize("text", ["network = ", "[networks.x]\nurl = 5\n", "\xff"])
def test_bad_config_is_one_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError):
        load_config(path).networks()


def test_unknown_network_and_bad_url(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / "c.toml")
    with pytest.raises(ConfigError, match="unknown network 'nope'"):
        cfg.network("nope")
    with pytest.raises(ConfigError):
        cfg.add_network("x", "ftp://host")
    with pytest.raises(ConfigError):
        cfg.add_network("bad name", "http://127.0.0.1:1")


def test_several_endpoints_quorum_and_trust_tag(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    cfg = load_config(path)
    urls = ["http://127.0.0.1:8545", "http://127.0.0.1:8546", "http://127.0.0.1:8547"]
    cfg.add_network("q", urls, quorum=2, trust="finalized")
    cfg.add_network("deep", urls[0], trust=12)
    save_config(cfg)
    net = load_config(path).network("q")
    assert (net.url, net.endpoints, net.quorum, net.trust) == (urls[0], tuple(urls), 2,
                                                               "finalized")
    deep = load_config(path).network("deep")
    assert (deep.endpoints, deep.quorum, deep.trust) == ((urls[0],), 1, 12)
    for bad, match in [({"quorum": 4}, "quorum 4 is impossible"), ({"quorum": 0}, "impossible"),
                       ({"trust": "soon"}, "trust must be"), ({"trust": -1}, "trust must be")]:
        with pytest.raises(ConfigError, match=match):
            cfg.add_network("x", urls, **bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="twice"):
        cfg.add_network("x", [urls[0], urls[0]])


@pytest.mark.parametrize(("body", "match"), [
    ('urls = ["http://a:1", "http://b:1"]\nquorum = 3\n', "quorum must be an integer from 1 to 2"),
    ('urls = ["http://a:1"]\nquorum = true\n', "quorum must be"),
    ('urls = ["http://a:1", "http://a:1"]\n', "same endpoint twice"),
    ('urls = []\n', "needs a url"),
    ('urls = ["ftp://a"]\n', "needs a url"),
    ('url = "http://b:1"\nurls = ["http://a:1"]\n', "url must be the first of urls"),
    ('url = "http://a:1"\ntrust = "whenever"\n', "trust must be"),
    # a misspelt quorum was ignored: three endpoints, any one trusted alone
    ('urls = ["http://a:1", "http://b:1", "http://c:1"]\nqourum = 2\n', "no setting 'qourum'"),
    ('url = "http://a:1"\nregistery = "0x5FbDB2315678afecb367f032d93F642f64180aa3"\n',
     "no setting 'registery'"),
])
def test_bad_endpoint_lists_are_config_errors(tmp_path: Path, body: str, match: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[networks.q]\n" + body)
    with pytest.raises(ConfigError, match=match):
        load_config(path).networks()


def test_saving_keeps_a_symlink_the_mode_and_the_commented_original(tmp_path: Path) -> None:
    """`keyanchor network add` (any command that saves) replaced a symlinked config with a
    plain file, reset its mode to the umask's and dropped every comment without a word."""
    import os

    real = tmp_path / "etc" / "config.toml"
    real.parent.mkdir()
    text = ('# managed by ops: see ticket 42\n[ssh]\nuser_template = "{user}@example.org"'
            '  # alice -> alice@example.org\nnote = "not # a comment"\n')
    real.write_text(text)
    real.chmod(0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    cfg = load_config(link)
    cfg.add_network("local", "http://127.0.0.1:8545")
    backup = save_config(cfg)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert oct(real.stat().st_mode & 0o777) == "0o640"
    assert backup == real.with_name("config.toml.bak") and backup.read_text() == text
    assert oct(backup.stat().st_mode & 0o777) == "0o640"
    again = load_config(link)
    assert again.network("local").url == "http://127.0.0.1:8545"
    assert again.ssh()["user_template"] == "{user}@example.org"
    assert again.data["ssh"]["note"] == "not # a comment"
    # the rewritten file has no comment left to lose: the backup is not overwritten
    again.use_network("local")
    assert save_config(again) is None and backup.read_text() == text
    # a file without comments is rewritten without a backup
    plain = tmp_path / "plain.toml"
    plain.write_text('note = "x # y"\n')
    assert save_config(load_config(plain)) is None
    assert not plain.with_name("plain.toml.bak").exists()
