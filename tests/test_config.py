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
