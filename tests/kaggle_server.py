"""A fake Kaggle API on 127.0.0.1, answering the routes the real ``kaggle`` client calls to download a dataset.

kagglesdk's ``TEST`` environment (``KAGGLE_API_ENVIRONMENT=TEST``) is
``http://localhost:7777``, and off production the client puts its calls under
``/api/v1/<service>/<method>``. Downloading a dataset is two requests, found by
reading ``kaggle.api.kaggle_api_extended`` / ``kagglesdk`` and confirmed in :attr:`FakeKaggle.log`:

- ``POST /api/v1/datasets.DatasetApiService/DownloadDataset`` (JSON body
  ``{"ownerSlug", "datasetSlug"}``, HTTP Basic auth with the username and key,
  or ``Bearer`` with an access token). Kaggle answers with a redirect to a
  signed storage URL; here ``302`` to ``/storage/<owner>/<slug>.zip``.
- ``GET /storage/<owner>/<slug>.zip``: the archive, with ``Content-Length``,
  ``ETag``, ``Last-Modified`` and ``Accept-Ranges`` as cloud storage sends
  them. The client resumes a cut transfer with ``Range`` + ``If-Range``.

An access token (``KAGGLE_API_TOKEN``) adds ``POST /api/v1/security.OAuthService/IntrospectToken``
while the client authenticates. Every other path gets a JSON 404, and is logged.

The server binds 127.0.0.1 only and refuses any client that is not on the
loopback interface. Only the standard library is used.

Example:
    >>> server = FakeKaggle({"owner/slug": zip_bytes}, username="learner", key="secret")
    >>> with server:                      # serving on http://127.0.0.1:7777 until the block ends
    ...     server.answer = 403           # the next DownloadDataset call is refused
    >>> server.routes()
    ['POST /api/v1/datasets.DatasetApiService/DownloadDataset', 'GET /storage/owner/slug.zip']
"""
from __future__ import annotations

import base64
import email.utils
import hashlib
import ipaddress
import json
import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Union
from urllib.parse import urlsplit

HOST = "127.0.0.1"
PORT = 7777
"""kagglesdk's ``KaggleEnv.TEST`` endpoint is ``http://localhost:7777``."""

DOWNLOAD_ROUTE = "/api/v1/datasets.DatasetApiService/DownloadDataset"
INTROSPECT_ROUTE = "/api/v1/security.OAuthService/IntrospectToken"
STORAGE_PREFIX = "/storage/"

ERROR_MESSAGES = {
    401: "Unauthenticated",
    403: "Permission 'datasets.get' was denied: you must accept this dataset's rules before downloading it",
    404: "Not found",
    429: "Too many requests",
    500: "Internal error encountered.",
}
"""Kaggle's JSON error body ``{"code": ..., "message": ...}`` per status (500 comes back as HTML)."""

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class Request:
    """One request the server received.

    Attributes:
        method, path: as sent (path without the query string).
        auth: ``"basic:<username>:<key>"``, ``"bearer:valid"`` / ``"bearer:invalid"`` (the server's
            token or another), or None.
        range: the ``Range`` header, or None.
        body: the parsed JSON body, or None.
    """

    method: str
    path: str
    auth: Optional[str]
    range: Optional[str]
    body: Optional[dict]


class FakeKaggle:
    """A fake Kaggle API serving dataset zips on 127.0.0.1:``port``; a context manager that runs it in a thread.

    Attributes:
        datasets: ``"owner/slug"`` -> zip bytes.
        answer: what the next ``DownloadDataset`` calls get: ``"redirect"``
            (the normal answer) or an HTTP status code (401, 403, 429, 500, ...).
        drops: how many more zip transfers to cut halfway (headers promise the
            whole body, half is sent, then the connection closes).
        log: every :class:`Request` received, in order.

    Example:
        >>> with FakeKaggle({"paultimothymooney/chest-xray-pneumonia": data}, "me", "key") as kaggle:
        ...     kaggle.drops = 1            # the next transfer is cut; the client's retry resumes it
    """

    def __init__(self, datasets: dict[str, bytes], username: str, key: str, token: Optional[str] = None,
                 port: int = PORT) -> None:
        self.datasets = dict(datasets)
        self.username, self.key, self.token = username, key, token
        self.port = port
        self.answer: Union[str, int] = "redirect"
        self.drops = 0
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._server: Optional[_LoopbackServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:7777``."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> "FakeKaggle":
        """Bind 127.0.0.1:``port`` and serve in a daemon thread.

        Raises:
            OSError: the port is taken (errno EADDRINUSE); nothing waits for it to free up.
        """
        self._server = _LoopbackServer((HOST, self.port), _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-kaggle-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> "FakeKaggle":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def routes(self) -> list[str]:
        """The distinct ``"METHOD path"`` pairs received, in first-seen order.

        Example:
            >>> kaggle.routes()
            ['POST /api/v1/datasets.DatasetApiService/DownloadDataset', 'GET /storage/owner/slug.zip']
        """
        return list(dict.fromkeys(f"{r.method} {r.path}" for r in self.log))

    def record(self, request: Request) -> None:
        with self._lock:
            self.log.append(request)

    def take_drop(self) -> bool:
        """Whether to cut this transfer (and count it)."""
        with self._lock:
            if self.drops <= 0:
                return False
            self.drops -= 1
            return True


class _LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type, kaggle: FakeKaggle) -> None:
        self.kaggle = kaggle
        super().__init__(address, handler)

    def verify_request(self, request, client_address) -> bool:
        """Serve loopback clients only."""
        return ipaddress.ip_address(client_address[0]).is_loopback


class _Handler(BaseHTTPRequestHandler):
    server: _LoopbackServer
    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds a silent client may hold a connection

    def log_message(self, format: str, *args) -> None:  # the request log is FakeKaggle.log, not stderr
        pass

    def do_POST(self) -> None:
        kaggle = self.server.kaggle
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = urlsplit(self.path).path
        auth = self._auth()
        kaggle.record(Request("POST", path, auth, self.headers.get("Range"), body))
        if path == INTROSPECT_ROUTE:
            active = kaggle.token is not None and isinstance(body, dict) and body.get("token") == kaggle.token
            self._json(200, {"active": active, "username": kaggle.username if active else ""})
        elif path == DOWNLOAD_ROUTE:
            self._download_dataset(body or {}, auth)
        else:
            self._error(404)

    def do_GET(self) -> None:
        kaggle = self.server.kaggle
        path = urlsplit(self.path).path
        kaggle.record(Request("GET", path, self._auth(), self.headers.get("Range"), None))
        ref = path[len(STORAGE_PREFIX):].removesuffix(".zip") if path.startswith(STORAGE_PREFIX) else None
        if ref not in kaggle.datasets:
            self._error(404)
            return
        self._send_zip(kaggle.datasets[ref])

    def _download_dataset(self, body: dict, auth: Optional[str]) -> None:
        kaggle = self.server.kaggle
        ref = f"{body.get('ownerSlug')}/{body.get('datasetSlug')}"
        if auth not in (f"basic:{kaggle.username}:{kaggle.key}", "bearer:valid"):
            self._error(401)
        elif kaggle.answer != "redirect":
            self._error(int(kaggle.answer))
        elif ref not in kaggle.datasets:
            self._error(404)
        else:
            self.send_response(302)
            self.send_header("Location", f"{kaggle.url}{STORAGE_PREFIX}{ref}.zip")
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _send_zip(self, data: bytes) -> None:
        etag = '"' + hashlib.md5(data).hexdigest() + '"'
        start, end = 0, len(data)
        wanted = _RANGE.match(self.headers.get("Range") or "")
        if_range = self.headers.get("If-Range")
        partial = bool(wanted) and (if_range is None or if_range == etag)
        if partial:
            start = int(wanted.group(1))
            end = min(int(wanted.group(2)) + 1, len(data)) if wanted.group(2) else len(data)
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(end - start))
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", email.utils.formatdate(1_600_000_000, usegmt=True))
        self.end_headers()
        if self.server.kaggle.take_drop():
            self.wfile.write(data[start: start + (end - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data[start:end])

    def _auth(self) -> Optional[str]:
        """``basic:<user>:<key>``, ``bearer:valid`` / ``bearer:invalid``, or None."""
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme == "Basic":
            try:
                return "basic:" + base64.b64decode(value).decode()
            except ValueError:
                return "basic:?"
        if scheme == "Bearer":
            return "bearer:valid" if value == self.server.kaggle.token else "bearer:invalid"
        return None

    def _json(self, status: int, payload: dict, headers: Optional[dict] = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int) -> None:
        message = ERROR_MESSAGES.get(status, HTTPStatus(status).phrase)
        if status >= 500:  # a front-end error page, not the API's JSON
            data = f"<html><body><h1>{status}</h1><p>{message}</p></body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._json(status, {"code": status, "message": message},
                   {"Retry-After": "30"} if status == 429 else None)
