"""HTTP sessions whose every request has a total deadline: connecting, sending and every read of
the answer together.

requests' own timeout bounds each socket operation, not the request: a server that sends its
headers and then one byte a second never trips it, and a call would wait for as long as the
server drips. Here each request arms a timer; when it fires, the sockets the request uses are
shut down, the read blocked on them fails at once, and the request raises requests.Timeout.
The deadline is the timeout the caller passes (a number, or the sum of a (connect, read) pair),
capped by the session's own. Name resolution (DNS) is left to the system resolver's timeouts.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import requests
import urllib3
from google.auth.credentials import AnonymousCredentials
from google.auth.transport import DEFAULT_REFRESH_STATUS_CODES
from google.auth.transport.requests import AuthorizedSession, Request
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_local = threading.local()


class _Watch:
    """The sockets one request uses, shut down when its deadline passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def track(self, connection: Any) -> None:
        with self._lock:
            self._connections.append(connection)
            fired = self.fired
        if fired:
            _shut(connection)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)

    def __enter__(self) -> _Watch:
        stack = getattr(_local, "watches", None)
        if stack is None:
            stack = _local.watches = []
        stack.append(self)
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _local.watches.remove(self)


def _shut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _track(connection: Any) -> None:
    for watch in getattr(_local, "watches", ()):
        watch.track(connection)


class _Tracked:
    """A urllib3 connection that tells the running request's watch about itself."""

    def connect(self) -> None:
        _track(self)
        super().connect()  # type: ignore[misc]
        _track(self)  # the socket (now TLS-wrapped) it connected

    def request(self, *args: Any, **kwargs: Any) -> None:
        _track(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Tracked, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Tracked, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **kwargs: Any):
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def _seconds(timeout: object, cap: float) -> float:
    if isinstance(timeout, int | float):
        return min(float(timeout), cap)
    if isinstance(timeout, tuple) and all(isinstance(t, int | float) for t in timeout):
        return min(float(sum(timeout)), cap)
    return cap


class _DeadlineMixin:
    deadline: float

    def _mount_deadline_adapters(self) -> None:
        for prefix in ("http://", "https://"):
            self.mount(prefix, _Adapter())  # type: ignore[attr-defined]

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        seconds = _seconds(kwargs.get("timeout"), self.deadline)
        with _Watch(seconds) as watch:
            try:
                response = super().send(request, **kwargs)  # type: ignore[misc]
                if watch.fired:  # a body cut short by the deadline may still parse
                    raise requests.exceptions.ReadTimeout(request=request)
            except Exception as exc:
                if not watch.fired:
                    raise
                raise requests.exceptions.ReadTimeout(
                    f"no complete answer within the {seconds:g}s deadline", request=request
                ) from exc
        return response


class DeadlineSession(_DeadlineMixin, requests.Session):
    """A requests.Session whose requests each end within `deadline` seconds."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline
        self._mount_deadline_adapters()


class DeadlineAuthorizedSession(_DeadlineMixin, AuthorizedSession):
    """google-auth's AuthorizedSession (what google-cloud-bigquery uses), with the deadline on
    every request, the access-token requests included."""

    def __init__(self, credentials: Any, deadline: float) -> None:
        self.deadline = deadline
        self._token_session = DeadlineSession(deadline)
        # Anonymous requests have no token to refresh: a 401 is the server's answer, as it is.
        anonymous = isinstance(credentials, AnonymousCredentials)
        super().__init__(
            credentials,
            refresh_status_codes=() if anonymous else DEFAULT_REFRESH_STATUS_CODES,
            auth_request=Request(self._token_session),
            refresh_timeout=deadline,
        )
        self._mount_deadline_adapters()

    def close(self) -> None:
        self._token_session.close()
        super().close()
