"""The gateway's HTTP/1.1 protocol on httptools (llhttp, C): the h11 one's guarantees at half its cost.

    from registry.gateways._server import http_protocol   # this class when httptools imports
    uvicorn.Config(app, http=http_protocol(), ...)

uvicorn's own ``HttpToolsProtocol`` parses with llhttp, which already refuses
request smuggling's raw material (Content-Length together with
Transfer-Encoding, a duplicated or malformed Content-Length, a
Transfer-Encoding other than a final ``chunked``, bare LF or CR line ends,
obs-fold, invalid header characters and methods). What h11 gave and llhttp
does not, :class:`GuardedHttpToolsProtocol` adds:

* **a cap on the request head**: the bytes of a head not yet complete are
  counted and past :data:`MAX_HEAD` (16 KiB, h11's limit) the connection gets
  ``431`` and is closed; a head that arrives whole in one read is measured
  when it completes, with the same answer. llhttp itself buffers a header
  line of any length.
* **HTTP/1.0 and 1.1 only**: an HTTP/0.9 request line (no version), a
  ``HTTP/2.0`` one, an HTTP/1.1 request without ``Host``, one with two and an HTTP/1.0
  request with ``Transfer-Encoding`` get ``400`` and a close, as with h11.
* **every parser error answers 400 and closes** (never an exception out of
  ``data_received``), and bytes after an error are never parsed. When complete
  requests before the bad bytes still wait for their answers (pipelining),
  they are answered first, the last one with ``Connection: close``, and no
  request after the error is read. The 400 is written only when no answer is
  pending, so it can never land inside another answer.
* **no upgrade**: a request with ``Connection: upgrade`` (h2c, websocket) or a
  ``CONNECT`` is answered as a plain request and the connection closed after
  the answer; what follows it on the wire is never parsed.
* **a bound on pipelining**: at most :data:`MAX_PIPELINED` requests wait
  behind the one being answered; the rest of such a burst is not read (the
  waiting ones are answered, then the connection closes).

Plus the guarantees common to both protocols (:class:`registry.gateways._server._Guarded`).
"""

from __future__ import annotations

from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from registry.gateways._server import _Guarded

__all__ = ["MAX_HEAD", "MAX_PIPELINED", "GuardedHttpToolsProtocol"]

#: Bytes of one request head (request line and headers) the server buffers (h11's default).
MAX_HEAD = 16 * 1024
#: Complete requests that may wait behind the one being answered on one connection.
MAX_PIPELINED = 32

_INVALID = "Invalid HTTP request received."


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request the server refuses."""


class GuardedHttpToolsProtocol(_Guarded, HttpToolsProtocol):
    """uvicorn's httptools protocol with the guards of :mod:`registry.gateways._server` and
    the limits h11 had built in (see the module docstring)."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._in_head = True   # the next bytes belong to a request head not yet complete
        self._head = 0         # bytes of that head seen so far
        self._head_parsed = 0  # its bytes the parser handed over (URL pieces, whole headers)
        self._marks = 0        # heads and requests completed on this connection
        self._headers = 0      # whole headers of the current head
        self._failed = False   # a request was refused: nothing more is read
        self._refusal: tuple[int, str] | None = None
        self._running: Any = None  # the request being answered

    # -- asyncio.Protocol

    def data_received(self, data: bytes) -> None:
        if self._failed:
            return
        self._unset_keepalive_if_required()
        marks = self._marks
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # answer the request as a plain one, then close
            self._fail(0, "")
            return
        except Exception:  # any parser or callback error: 400 and close
            status, message = self._refusal or (400, _INVALID)
            self._fail(status, message)
            return
        if not self._in_head:
            return
        if marks == self._marks:  # every byte of this read belongs to the incomplete head
            self._head += len(data)
        elif self._headers:  # a request ended in this read and the next head has whole headers:
            # the parser holds the part after the last line end
            self._head = self._head_parsed + len(data) - data.rfind(b"\n") - 1
        else:  # (a header line begun in this very read is not counted before the next read)
            self._head = self._head_parsed
        if self._head > MAX_HEAD:
            self._fail(431, "Request header fields too large.")

    # -- parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_parsed = self._headers = 0

    def on_url(self, url: bytes) -> None:
        self._head_parsed += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_parsed += len(name) + len(value) + 4
        self._headers += 1
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._marks += 1
        self._in_head = False
        whole = self._head_parsed  # a head that arrived whole in one read is capped too
        self._head = self._head_parsed = self._headers = 0
        if whole > MAX_HEAD:
            self._refuse(431, "Request header fields too large.")
        version = self.parser.get_http_version()
        if version not in ("1.1", "1.0"):
            self._refuse(400, "Unsupported HTTP version.")
        names = [name for name, _ in self.headers]
        hosts = names.count(b"host")
        if hosts > 1 or (version == "1.1" and not hosts):  # RFC 9112 section 3.2, as h11
            self._refuse(400, "Exactly one Host header is required.")
        if version == "1.0" and b"transfer-encoding" in names:
            self._refuse(400, "Transfer-Encoding in an HTTP/1.0 request.")
        if len(self.pipeline) >= MAX_PIPELINED:
            self._refuse(0, "")  # answer those waiting, then close
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._marks += 1
        self._in_head = True
        self._stop_waiting()  # a complete request arrived
        super().on_message_complete()

    def _should_upgrade(self) -> bool:
        return False  # no websocket (nor any other) upgrade: answered as a plain request

    def _refuse(self, status: int, message: str) -> None:
        self._refusal = (status, message)
        raise _Refused(message)

    # -- answers

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        self._running = cycle
        super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        self._flush()
        super().on_response_complete()
        newest = self.cycle
        if not self.transport.is_closing() and (newest.response_complete or newest.more_body):
            self._await_request()  # nothing complete waits for its answer

    def _fail(self, status: int, message: str) -> None:
        """Stop reading; answer the complete requests still waiting, then ``status`` (0: none)
        unless one was pending, then close."""
        self._failed = True
        self.flow.pause_reading()
        pending = self.cycle
        if pending is not None and pending.more_body and not pending.response_complete:
            if self.pipeline and self.pipeline[0][0] is pending:
                self.pipeline.popleft()  # queued, its body never completes: never answered
                pending = self.pipeline[0][0] if self.pipeline else self._running
            else:  # being answered, its body never completes
                if status and not pending.response_started:
                    self._write_error(status, message)
                pending.disconnected = True
                pending.message_event.set()
                self.transport.close()
                return
        if pending is not None and not pending.response_complete:
            pending.keep_alive = False  # the last answer closes the connection
            return
        if status:
            self._write_error(status, message)
        self.transport.close()

    def _write_error(self, status: int, message: str) -> None:
        body = message.encode("ascii")
        self.transport.write(b"".join([
            STATUS_LINE[status], b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\n", b"connection: close\r\n\r\n",
            body]))
