"""Server-rendered HTML for the lookup page: home with a search box, a name's keys and history.

    html = render_home()
    html = render_name(gateway.name_view("alice@example.org"), reader.history("alice@example.org"))

Stdlib only. One self-contained page per response: inline CSS, no scripts, no
external assets (the gateway's Content-Security-Policy forbids them), a mobile
viewport, labelled form controls and a heading outline. Every value from the
index goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

__all__ = ["render_error", "render_home", "render_matches", "render_name", "render_not_found"]

SERVED_NOTE = (
    "By default this server hands out only keys that are <strong>active</strong> (not revoked,"
    " not expired, not yet to come) and that <strong>pass the registry's policy</strong>."
    " Other records are listed for the record, marked as not served."
)

_CSS = """
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#57606a;--line:#d0d7de;
--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--accent:#0969da}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;
--line:#30363d;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--accent:#4493f8}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:60rem;margin:0 auto;padding:0 1rem}
header{padding-top:1rem}
header a{color:inherit;text-decoration:none;font-weight:700}
h1{font-size:1.6rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.25rem;margin:1.5rem 0 .5rem}
h3{font-size:1.05rem;margin:0 0 .5rem}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin:1rem 0}
form .field{display:flex;flex-direction:column;flex:1 1 16rem}
label{font-weight:600}
input[type=search]{font:inherit;padding:.55rem .7rem;border:1px solid var(--line);border-radius:6px;
background:var(--bg);color:var(--fg);min-height:44px}
button{font:inherit;padding:.55rem 1rem;border:0;border-radius:6px;background:var(--accent);color:#fff;min-height:44px}
.note{color:var(--muted);font-size:.95rem}
.card{border:1px solid var(--line);border-radius:8px;padding:1rem;margin:0 0 1rem}
dl{display:grid;grid-template-columns:minmax(7rem,max-content) 1fr;gap:.25rem 1rem;margin:0}
dt{color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;border:1px solid currentColor;font-size:.85rem;font-weight:600}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
.table-wrap{overflow-x:auto}
footer{margin-top:2rem;padding-bottom:2rem;color:var(--muted);font-size:.9rem}
@media (max-width:30rem){dl{grid-template-columns:1fr}dt{margin-top:.4rem}}
"""


_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _time(ts: int | str | None) -> str:
    """A time (ISO 8601 text as the JSON API gives it, or Unix seconds) as ``<time>``."""
    if not ts:
        return "—"
    if isinstance(ts, str):
        when = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)
    else:
        when = datetime.fromtimestamp(min(int(ts), _MAX_SECONDS), UTC)  # the contract allows year 10680
    return f'<time datetime="{when.strftime("%Y-%m-%dT%H:%M:%SZ")}">{when.strftime("%Y-%m-%d %H:%M UTC")}</time>'


def _search_form(value: str = "") -> str:
    return (
        '<form action="/search" method="get" role="search" aria-label="Look up a name or key">'
        '<div class="field"><label for="q">Name, e-mail address or fingerprint</label>'
        f'<input id="q" name="q" type="search" value="{_e(value)}" required maxlength="320"'
        ' autocomplete="off" autocapitalize="none" spellcheck="false"'
        ' placeholder="alice@example.org"></div>'
        '<button type="submit">Look up</button></form>'
    )


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · keyanchor</title>"
        '<link rel="icon" href="data:,">'
        f"<style>{_CSS}</style></head><body>"
        '<header><a href="/">keyanchor key registry</a></header>'
        f'<main id="main">{body}</main>'
        '<footer><p>Keys are anchored on chain and served from a verified local index. '
        'gpg: <code>--keyserver hkp://this-host</code>; JSON: <code>/v1/names/NAME</code>; '
        'SSH: <code>/NAME.keys</code>.</p></footer>'
        "</body></html>\n"
    )


def render_home(query: str = "") -> str:
    """The start page: what the registry is, the search box, the serving rule."""
    return _page("Look up a key", (
        "<h1>Look up a key</h1>"
        "<p>Find the SSH, OpenPGP and X.509 keys published for a name in the on-chain registry.</p>"
        + _search_form(query)
        + f'<p class="note" id="served-rule">{SERVED_NOTE}</p>'
    ))


def render_not_found(query: str) -> str:
    return _page("Not found", (
        "<h1>Nothing found</h1>"
        f'<p role="status">No registered name or key matches <code>{_e(query)}</code>.</p>'
        + _search_form(query)
    ))


def render_error(message: str, status: int) -> str:
    return _page("Error", (
        f"<h1>Request refused ({int(status)})</h1><p role=\"alert\">{_e(message)}</p>"
        + _search_form()
    ))


def render_matches(query: str, names: Iterable[str]) -> str:
    items = "".join(
        f'<li><a href="/names/{quote(n, safe="@")}">{_e(n)}</a></li>' for n in names)
    return _page("Matches", (
        f"<h1>Names holding <code>{_e(query)}</code></h1><ul>{items}</ul>" + _search_form(query)
    ))


def _status_badge(rec: Mapping[str, Any]) -> str:
    status = str(rec["status"])
    cls = {"active": "ok", "revoked": "bad", "expired": "bad"}.get(status, "warn")
    return f'<span class="badge {cls}">{_e(status)}</span>'


def _record(rec: Mapping[str, Any]) -> str:
    pol = rec["policy"]
    verdict = str(pol["verdict"])
    vcls = {"pass": "ok", "fail": "bad"}.get(verdict, "warn")
    failing = pol.get("failing_lints") or []
    lints = ("<ul class=\"lints\">" + "".join(f"<li><code>{_e(x)}</code></li>" for x in failing)
             + "</ul>") if failing else ""
    atts = rec.get("attestations") or []
    att_html = "none" if not atts else "<ul>" + "".join(
        f"<li>{_e(a['attester'])}" + (" (expired)" if a.get("expired") else "")
        + f" — policy <code>{_e(str(a['policy_hash'])[:18])}…</code></li>" for a in atts) + "</ul>"
    served = ('<span class="badge ok">served</span>' if rec.get("served")
              else '<span class="badge bad">not served</span>')
    purposes = ", ".join(rec.get("purposes") or []) or "—"
    revoked = ""
    if rec.get("revoked_at"):
        revoked = f"<dt>Revoked</dt><dd>{_time(rec['revoked_at'])} (reason {_e(rec.get('reason'))})</dd>"
    subkeys = ""
    if rec.get("subkeys"):
        subkeys = "<dt>Subkeys</dt><dd>" + "<br>".join(
            f"<code>{_e(s)}</code>" for s in rec["subkeys"]) + "</dd>"
    fp = str(rec["fingerprint"])
    return (
        f'<article class="card key" data-fingerprint="{_e(fp)}" data-status="{_e(rec["status"])}"'
        f' aria-labelledby="key-{int(rec["index"])}">'
        f'<h3 id="key-{int(rec["index"])}">{_e(str(rec["key_type"]).upper())} key'
        f' #{int(rec["index"])} {_status_badge(rec)} {served}</h3><dl>'
        f'<dt>Type</dt><dd>{_e(rec["key_type"])} ({_e(rec["algorithm"])})</dd>'
        f'<dt>Fingerprint</dt><dd><code class="fingerprint">{_e(fp)}</code></dd>'
        f"{subkeys}"
        f'<dt>Status</dt><dd class="status">{_e(rec["status"])}</dd>'
        f'<dt>Valid</dt><dd>from {_time(rec.get("valid_from") or rec.get("published_at"))}'
        f' until {_time(rec.get("valid_until")) if rec.get("valid_until") else "no expiry"}</dd>'
        f"{revoked}"
        f"<dt>Purposes</dt><dd>{_e(purposes)}</dd>"
        f"<dt>Identities</dt><dd>{_e(', '.join(rec.get('identities') or []) or '—')}</dd>"
        f"<dt>Attestations</dt><dd>{att_html}</dd>"
        f'<dt>Policy</dt><dd class="verdict"><span class="badge {vcls}">{_e(verdict)}</span>'
        f' <span class="note">{_e(pol.get("detail", ""))}</span>{lints}</dd>'
        f"<dt>Published</dt><dd>{_time(rec.get('published_at'))}, block {_e(rec.get('block'))}</dd>"
        "</dl></article>"
    )


def _history(events: list[dict[str, Any]]) -> str:
    if not events:
        return "<p>No events.</p>"
    rows = []
    for ev in events:
        data = ev.get("data") or {}
        summary = ", ".join(
            f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in data.items()
            if k in ("index", "key_type", "reason", "owner", "name", "purposes", "operator", "approved"))
        rows.append(
            f"<tr><td>{_e(ev['block_number'])}</td><td>{_time(ev.get('timestamp'))}</td>"
            f"<td>{_e(ev['kind'])}</td><td><code>{_e(summary)}</code></td></tr>")
    return ('<div class="table-wrap"><table><caption class="note">Events from the chain, oldest first'
            '</caption><thead><tr><th scope="col">Block</th><th scope="col">Time</th>'
            '<th scope="col">Event</th><th scope="col">Details</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def render_name(view: Mapping[str, Any], history: list[dict[str, Any]]) -> str:
    """A name's page: owner, every key record (served or not, with why) and the history."""
    recs = list(view.get("records") or [])
    served = sum(1 for r in recs if r.get("served"))
    keys = "".join(_record(r) for r in recs) or "<p>No keys published.</p>"
    return _page(str(view["name"]), (
        f'<h1 id="name">{_e(view["name"])}</h1>'
        f'<p>Owner <code>{_e(view.get("owner"))}</code>'
        + (f' · under <a href="/names/{quote(str(view["parent"]), safe="@")}">{_e(view["parent"])}</a>'
           if view.get("parent") else "")
        + f'</p><p class="note" id="served-rule">{SERVED_NOTE}</p>'
        f'<section aria-labelledby="keys-h"><h2 id="keys-h">Keys ({served} of {len(recs)} served)</h2>'
        f"{keys}</section>"
        f'<section aria-labelledby="hist-h"><h2 id="hist-h">History</h2>{_history(history)}</section>'
        f'<section aria-labelledby="search-h"><h2 id="search-h">Look up another name</h2>'
        f"{_search_form()}</section>"
    ))
