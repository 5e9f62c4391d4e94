"""A JSON-RPC proxy on 127.0.0.1 in front of a real node (anvil) that lies, one way at a time.

    with LyingProxy(anvil.url) as proxy:
        proxy.lie("withhold-revocation")
        sync_index(index, (Web3(HTTPProvider(proxy.url)), address))   # must fail, never serve

Every reply from the upstream node passes through the current mode (``MODES``
lists them, with what each does); batch requests are lied to element by
element. A mode may also rewrite the request before it goes upstream (a proof
asked for another slot, a frozen head). ``honest`` passes everything through.

The modes cover issue 12's table (what an endpoint lied about in a hold-out
test) and more: a tampered proof node, a header whose fields do not hash to its
hash, a forged but self-consistent header, a proof for the wrong slot, a digest
that skips an event, a frozen (lagging) head, a head below the index's own.
Three proxies over one node make a quorum with one liar; over three nodes, a
split. Tests and the sshd login test in tests/index/test_lying_endpoints.py and
tests/index/test_sshd_trust.py.
"""

from __future__ import annotations

import copy
import json
import threading
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MODES", "LyingProxy"]

MODES = {
    "honest": "everything passed through",
    "flip-material": "one byte of every KeyPublished log's key material flipped",
    "flip-commitment-view": "the first commitment in every records() eth_call answer flipped",
    "wrong-chain-id": "eth_chainId / net_version say chain 1",
    "rewrite-block-hashes": "every log names another block hash",
    "unrevoke-view": "records() answers status active (0) for revoked (2) records",
    "unrevoke-proof": "records() unrevoked, and the revocation bits cleared in every proven or"
                      " read storage word",
    "withhold-revocation": "KeyRevoked logs left out of eth_getLogs",
    "withhold-revocation-patch-digest": "KeyRevoked logs left out, and event_digest(), slot 0"
                                        " of eth_getStorageAt and of eth_getProof answered with"
                                        " the digest of the logs shown",
    "digest-skips-event": "slot 0 in eth_getProof answered with the digest of every log but the"
                          " newest (logs untouched)",
    "freeze-head": "the chain stops at the block the mode was set at (a lagging or stuck node):"
                   " heads, numbers, logs and proofs above it are not there",
    "tamper-proof-node": "one byte of a node in every account proof changed",
    "header-fields": "every header's timestamp moved on, its hash left as it was",
    "forged-header": "every header's stateRoot replaced and its hash recomputed (self-consistent)",
    "wrong-slot": "eth_getProof answers for slot + 1, labelled with the slot asked for",
}

def _topic(event: str) -> str:
    from registry.chain.client import load_contract

    return "0x" + load_contract().event(event).topic.hex()


def _selector(fn: str) -> str:
    from registry.chain.client import load_contract

    return "0x" + load_contract().fn(fn).selector.hex()


def _post(url: str, payload: Any) -> Any:
    req = urllib.request.Request(url, json.dumps(payload).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


class LyingProxy:
    """One proxy; :meth:`lie` switches its mode (thread-safe; takes effect at once)."""

    def __init__(self, upstream: str, mode: str = "honest") -> None:
        self.upstream = upstream
        self.mode = "honest"
        self.frozen: int | None = None
        self.requests: list[str] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                out = json.dumps(proxy.handle(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.lie(mode)

    def __enter__(self) -> LyingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def lie(self, mode: str) -> None:
        """Switch to ``mode`` (one of :data:`MODES`)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode}")
        with self._lock:
            self.mode = mode
            self.frozen = None
            if mode == "freeze-head":
                self.frozen = int(_post(self.upstream, {"jsonrpc": "2.0", "id": 1,
                                                        "method": "eth_blockNumber",
                                                        "params": []})["result"], 16)

    def freeze_at(self, number: int) -> None:
        """A frozen head at ``number`` (a node lagging that far behind)."""
        with self._lock:
            self.mode, self.frozen = "freeze-head", int(number)

    # ----------------------------------------------------------------- plumbing

    def handle(self, body: Any) -> Any:
        with self._lock:
            mode, frozen = self.mode, self.frozen
        items = body if isinstance(body, list) else [body]
        self.requests += [str(it.get("method")) for it in items]
        sent = [self._request(mode, frozen, copy.deepcopy(it)) for it in items]
        forward = [s for s in sent if "_reply" not in s]
        replies = (_post(self.upstream, forward) if isinstance(body, list) else
                   [_post(self.upstream, forward[0])]) if forward else []
        by_id = {r.get("id"): r for r in replies}
        out = []
        for original, s in zip(items, sent, strict=True):
            reply = s["_reply"] if "_reply" in s else by_id.get(s.get("id"))
            out.append(self._reply(mode, frozen, original, copy.deepcopy(reply)))
        return out if isinstance(body, list) else out[0]

    def _request(self, mode: str, frozen: int | None, req: dict[str, Any]) -> dict[str, Any]:
        method, params = req.get("method"), req.get("params") or []
        if mode == "wrong-slot" and method == "eth_getProof":
            req["params"] = [params[0], ["0x" + (int(k, 16) + 1).to_bytes(32, "big").hex()
                                         for k in params[1]], params[2]]
        if mode == "freeze-head" and frozen is not None:
            nothing = {"jsonrpc": "2.0", "id": req.get("id"), "result": None}
            if method == "eth_blockNumber":
                req["_reply"] = {"jsonrpc": "2.0", "id": req.get("id"), "result": hex(frozen)}
            elif method in ("eth_getBlockByNumber", "eth_getProof", "eth_call",
                            "eth_getStorageAt"):
                i = {"eth_getBlockByNumber": 0, "eth_getProof": 2, "eth_call": 1,
                     "eth_getStorageAt": 2}[method]
                tag = params[i] if len(params) > i else "latest"
                if tag in ("latest", "safe", "finalized", "pending"):
                    params[i] = hex(frozen)
                elif isinstance(tag, str) and int(tag, 16) > frozen:
                    req["_reply"] = nothing if method == "eth_getBlockByNumber" else {
                        "jsonrpc": "2.0", "id": req.get("id"),
                        "error": {"code": -32000, "message": "header not found"}}
                elif isinstance(tag, dict) and "blockHash" in tag:
                    blk = _post(self.upstream, {"jsonrpc": "2.0", "id": 1,
                                                "method": "eth_getBlockByHash",
                                                "params": [tag["blockHash"], False]})["result"]
                    if blk is None or int(blk["number"], 16) > frozen:
                        req["_reply"] = {"jsonrpc": "2.0", "id": req.get("id"),
                                         "error": {"code": -32000, "message": "header not found"}}
                req["params"] = params
            elif method == "eth_getLogs":
                flt = dict(params[0])
                to = flt.get("toBlock", "latest")
                if to in ("latest", "safe", "finalized", "pending") or int(to, 16) > frozen:
                    flt["toBlock"] = hex(frozen)
                req["params"] = [flt]
        return req

    def _reply(self, mode: str, frozen: int | None, req: dict[str, Any], reply: Any) -> Any:
        if not isinstance(reply, dict) or "result" not in reply or reply["result"] is None:
            return reply
        method, params = req.get("method"), req.get("params") or []
        lie: Callable[..., Any] | None = getattr(self, "_" + mode.replace("-", "_"), None)
        if lie is None:
            return reply
        out = lie(method, params, reply)
        return reply if out is None else out

    # ----------------------------------------------------------------- the lies

    def _flip_material(self, method: str, params: Any, reply: Any) -> Any:
        if method != "eth_getLogs":
            return None
        published = _topic("KeyPublished")
        for lg in reply["result"]:
            if lg["topics"][0].lower() == published:
                data = lg["data"]  # 7 head words, the material's length, then the material
                i = 2 + 64 * 8 + 20
                lg["data"] = data[:i] + ("0" if data[i] != "0" else "1") + data[i + 1:]
        return reply

    def _flip_commitment_view(self, method: str, params: Any, reply: Any) -> Any:
        if method == "eth_call" and params[0].get("data", "").startswith(_selector("records")):
            r = reply["result"]
            if len(r) > 200:  # offset, length, then record 0's commitment
                reply["result"] = r[:130] + ("1" if r[130] != "1" else "2") + r[131:]
            return reply
        return None

    def _wrong_chain_id(self, method: str, params: Any, reply: Any) -> Any:
        if method == "eth_chainId":
            return {**reply, "result": "0x1"}
        if method == "net_version":
            return {**reply, "result": "1"}
        return None

    def _rewrite_block_hashes(self, method: str, params: Any, reply: Any) -> Any:
        if method != "eth_getLogs":
            return None
        for lg in reply["result"]:
            lg["blockHash"] = "0x" + "ab" * 32
        return reply

    def _unrevoke_view(self, method: str, params: Any, reply: Any) -> Any:
        if method == "eth_call" and params[0].get("data", "").startswith(_selector("records")):
            words = reply["result"][2:]
            if len(words) >= 128 * 2:  # offset, length, then 11 words per record
                n = int(words[64:128], 16)
                ws = [words[i:i + 64] for i in range(0, len(words), 64)]
                for k in range(n):
                    status = 2 + k * 11 + 4
                    if int(ws[status], 16) == 2:
                        ws[status] = "00" * 32
                reply["result"] = "0x" + "".join(ws)
            return reply
        return None

    def _unrevoke_proof(self, method: str, params: Any, reply: Any) -> Any:
        if method == "eth_call":
            return self._unrevoke_view(method, params, reply)
        if method == "eth_getStorageAt":
            value = int(reply["result"], 16)
            if (value >> 10) & 15 and value >> 176 < 1 << 32:
                reply["result"] = "0x" + (value & ~(15 << 10)).to_bytes(32, "big").hex()
            return reply
        if method == "eth_getProof":
            for it in reply["result"]["storageProof"]:
                value = int(it["value"], 16)
                if (value >> 10) & 15 and int(it["key"], 16) != 0:
                    it["value"] = hex(value & ~(15 << 10))
            return reply
        return None

    def _withhold_revocation(self, method: str, params: Any, reply: Any) -> Any:
        if method != "eth_getLogs":
            return None
        revoked = _topic("KeyRevoked")
        reply["result"] = [lg for lg in reply["result"] if lg["topics"][0].lower() != revoked]
        return reply

    def _shown_digest(self, block: Any, *, skip_last: bool = False) -> str:
        """The digest of the logs this endpoint shows up to ``block`` (tag, number or hash)."""
        from registry.chain import layout
        from registry.chain.client import load_contract

        if isinstance(block, dict):
            blk = _post(self.upstream, {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByHash",
                                        "params": [block["blockHash"], False]})["result"]
            number = int(blk["number"], 16)
        elif block in ("latest", "safe", "finalized", "pending", None):
            number = int(_post(self.upstream, {"jsonrpc": "2.0", "id": 1,
                                               "method": "eth_blockNumber", "params": []})
                         ["result"], 16)
        else:
            number = int(block, 16)
        logs = _post(self.upstream, {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs",
                                     "params": [{"fromBlock": "0x0", "toBlock": hex(number)}]}
                     )["result"]
        if not skip_last:
            logs = self._withhold_revocation("eth_getLogs", [], {"result": logs})["result"]
        contract = load_contract()
        events = []
        for lg in sorted(logs, key=lambda x: (int(x["blockNumber"], 16), int(x["logIndex"], 16))):
            ev = contract.by_topic.get(bytes.fromhex(lg["topics"][0][2:]))
            if ev is None:
                continue
            raw = {"topics": [bytes.fromhex(t[2:]) for t in lg["topics"]],
                   "data": bytes.fromhex(lg["data"][2:])}
            events.append((ev.name, ev.decode(raw), int(lg["blockNumber"], 16)))
        if skip_last and events:
            events = events[:-1]
        return "0x" + layout.digest_events(events).hex()

    def _withhold_revocation_patch_digest(self, method: str, params: Any, reply: Any) -> Any:
        if method == "eth_getLogs":
            return self._withhold_revocation(method, params, reply)
        if method == "eth_call" and params[0].get("data") == _selector("event_digest"):
            return {**reply, "result": self._shown_digest(params[1])}
        if method == "eth_getStorageAt" and int(params[1], 16) == 0:
            return {**reply, "result": self._shown_digest(params[2])}
        if method == "eth_getProof":
            for it in reply["result"]["storageProof"]:
                if int(it["key"], 16) == 0:
                    it["value"] = hex(int(self._shown_digest(params[2]), 16))
            return reply
        return None

    def _digest_skips_event(self, method: str, params: Any, reply: Any) -> Any:
        if method == "eth_getProof":
            for it in reply["result"]["storageProof"]:
                if int(it["key"], 16) == 0:
                    it["value"] = hex(int(self._shown_digest(params[2], skip_last=True), 16))
            return reply
        return None

    def _tamper_proof_node(self, method: str, params: Any, reply: Any) -> Any:
        if method != "eth_getProof":
            return None
        proof = reply["result"]["accountProof"]
        if proof:
            node = proof[-1]
            proof[-1] = node[:-4] + ("00" if node[-4:-2] != "00" else "01") + node[-2:]
        return reply

    def _header_fields(self, method: str, params: Any, reply: Any) -> Any:
        if method in ("eth_getBlockByNumber", "eth_getBlockByHash"):
            reply["result"]["timestamp"] = hex(int(reply["result"]["timestamp"], 16) + 3600)
            return reply
        return None

    def _forged_header(self, method: str, params: Any, reply: Any) -> Any:
        if method in ("eth_getBlockByNumber", "eth_getBlockByHash"):
            from registry.chain.header import header_hash

            blk = reply["result"]
            blk["stateRoot"] = "0x" + "5a" * 32
            blk["hash"] = "0x" + header_hash(blk).hex()
            return reply
        return None

    def _wrong_slot(self, method: str, params: Any, reply: Any) -> Any:
        if method != "eth_getProof":
            return None
        for it in reply["result"]["storageProof"]:  # labelled with the slot that was asked for
            it["key"] = "0x" + (int(it["key"], 16) - 1).to_bytes(32, "big").hex()
        return reply
