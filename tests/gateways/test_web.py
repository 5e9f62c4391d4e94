"""The lookup page: server-rendered HTML checks, and a real headless Chromium driving a search.

Chromium is driven over the DevTools protocol (``--remote-debugging-port=0``;
the port is read from ``DevToolsActivePort``) with the ``websockets`` package:
load ``/``, type a name into the search box, submit the form, assert on the
DOM of the page it lands on, and save a screenshot at phone width.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from registry.gateways.web import render_home, render_name
from tests.conftest import require_tool
from tests.gateways.conftest import ServerThread, World

REPO = Path(__file__).resolve().parents[2]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    p = _Tags()
    p.feed(html)
    return p.tags


def test_home_is_self_contained_and_accessible() -> None:
    html = render_home()
    tags = _tags(html)
    assert ("html", {"lang": "en"}) in tags
    assert any(t == "meta" and a.get("name") == "viewport" for t, a in tags)
    assert [t for t, _ in tags].count("h1") == 1
    assert ("label", {"for": "q"}) in tags
    form = next(a for t, a in tags if t == "form")
    assert form["action"] == "/search" and form["method"] == "get"
    assert not any(t == "script" for t, _ in tags)
    assert not any(t == "link" and "http" in str(a.get("href")) for t, a in tags)
    assert "http://" not in html and "https://" not in html
    assert "pass the registry's policy" in html


def test_name_page_escapes_everything() -> None:
    evil = "<script>alert(1)</script>"
    view = {"name": "x@example.org", "owner": evil, "parent": None, "records": [{
        "index": 0, "key_type": "openpgp", "algorithm": evil, "fingerprint": evil, "status": "active",
        "purposes": [evil], "identities": [evil], "valid_from": None, "valid_until": None,
        "published_at": 0, "block": 1, "served": True, "attestations": [],
        "policy": {"verdict": "fail", "detail": evil, "failing_lints": [evil]}}]}
    html = render_name(view, [{"block_number": 1, "kind": evil, "timestamp": None,
                               "data": {"name": evil}}])
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.tools
def test_name_page_over_http(http: Any, world: World) -> None:
    r = http.get("/names/dave@example.org")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "binding.name" in r.text and "not served" in r.text
    assert http.get("/names/nobody@example.org").status_code == 404
    r = http.get("/search", params={"q": world.fpr["bob"]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/names/bob@example.org"
    assert http.get("/search", params={"q": "nothing here"}).status_code == 404


# --------------------------------------------------------------------------- real chromium


class CDP:
    """A minimal DevTools protocol client over one page target."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            self.events.append(msg)

    async def wait_event(self, method: str) -> dict[str, Any]:
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method:
                    return self.events.pop(i)
            self.events.append(json.loads(await asyncio.wait_for(self.ws.recv(), 20)))

    async def evaluate(self, expression: str) -> Any:
        res = await self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                              awaitPromise=True)
        return res["result"].get("value")


def _start_chromium(exe: str, profile: Path) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("chromium did not open its DevTools port")
        time.sleep(0.1)
    port = port_file.read_text().splitlines()[0]
    return proc, port


async def _search_in_browser(port: str, base: str, shot: Path) -> dict[str, Any]:
    import httpx
    import websockets

    async with httpx.AsyncClient(timeout=10) as c:
        targets = (await c.get(f"http://127.0.0.1:{port}/json/list")).json()
    page = next(t for t in targets if t.get("type") == "page")
    async with websockets.connect(page["webSocketDebuggerUrl"], max_size=2**25) as ws:
        cdp = CDP(ws)
        await cdp.call("Page.enable")
        await cdp.call("Emulation.setDeviceMetricsOverride", width=390, height=844,
                       deviceScaleFactor=1, mobile=True)
        await cdp.call("Page.navigate", url=base + "/")
        await cdp.wait_event("Page.loadEventFired")
        home = await cdp.evaluate(
            "({title: document.title, label: document.querySelector('label[for=q]').textContent,"
            " rule: document.getElementById('served-rule').textContent})")
        await cdp.evaluate(
            "document.getElementById('q').value = 'Alice@Example.org';"
            " document.querySelector('form[role=search]').requestSubmit(); true")
        await cdp.wait_event("Page.loadEventFired")
        dom = await cdp.evaluate("""({
            url: location.pathname,
            h1: document.querySelector('h1').textContent,
            keys: [...document.querySelectorAll('article.key')].map(a => ({
                fingerprint: a.dataset.fingerprint, status: a.dataset.status,
                served: a.querySelector('h3').textContent.includes('not served') ? false : true,
                verdict: a.querySelector('.verdict .badge').textContent,
                text: a.textContent})),
            history: [...document.querySelectorAll('#hist-h ~ div tbody tr')].map(
                r => r.children[2].textContent),
            scrollWidth: document.documentElement.scrollWidth,
            innerWidth: window.innerWidth})""")
        png = await cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        shot.write_bytes(base64.b64decode(png["data"]))
        return {"home": home, "dom": dom}


@pytest.mark.tools
def test_search_in_headless_chromium(server: ServerThread, world: World, tmp_path: Path) -> None:
    exe = require_tool("chromium", "chromium-browser", "/usr/bin/chromium")
    proc, port = _start_chromium(exe, tmp_path / "profile")
    shot = tmp_path / "name-page.png"
    try:
        out = asyncio.run(asyncio.wait_for(_search_in_browser(port, server.url, shot), 90))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
    home, dom = out["home"], out["dom"]
    assert "Name, e-mail address or fingerprint" in home["label"]
    assert "pass the registry's policy" in home["rule"]
    assert dom["url"] == "/names/alice@example.org"
    assert dom["h1"] == "alice@example.org"
    pgp, ssh = dom["keys"]
    assert pgp["fingerprint"] == world.fpr["alice"] and pgp["status"] == "active"
    assert pgp["served"] and pgp["verdict"] == "pass"
    assert "signing, encryption" in pgp["text"] and "example.org" in pgp["text"]  # attestation
    assert ssh["fingerprint"].startswith("SHA256:") and "ssh-user" in ssh["text"]
    assert dom["history"][:2] == ["assigned", "key-published"]
    assert dom["scrollWidth"] <= dom["innerWidth"]  # no horizontal scrolling on a phone
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("KEYANCHOR_UPDATE_SCREENSHOT"):
        (REPO / "docs" / "img").mkdir(exist_ok=True)
        shutil.copy(shot, REPO / "docs" / "img" / "name-page.png")
