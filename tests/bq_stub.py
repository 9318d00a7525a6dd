"""A loopback HTTP server answering BigQuery's REST `datasets.get`, `tables.get`, dry runs
(`jobs.insert` and `jobs.query`), the freshness query (`jobs.query`) and the OAuth token
endpoint.

For what bqemulator cannot hold (CMEK keys, time travel other than 168 hours, a streaming
buffer, a dry run's byte count: it prices every dry run at 0) and for faults (404, 403, 500,
501, a refused query, slow answers). It speaks the REST shapes of BigQuery API v2 (the answers
of google-cloud-bigquery 3.47's requests): the real client talks to it through
`--api-endpoint`. A dry run over a table of a dataset it holds, but not the table, is a 404;
over a dataset it was not given (records' tests give none), it is priced at `bytes_processed`.
The one query it runs is infra.bigquery.freshness's, over the events held with `events()`;
any other query is refused (400), unless a fault answers it otherwise. Given `answer`, it
answers every request with what that returns instead: any status, content type and bytes, or
(None) a JSON body dripped a byte at a time. Used by the tests and by
bench/verify_concurrency.py.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from infra.bigquery.freshness import NEWEST_CHECK, NEWEST_EVENT
from infra.model.declared import Declaration

_PATH_RE = re.compile(
    r"^/bigquery/v2/projects/(?P<project>[^/]+)/datasets/(?P<dataset>[^/]+)"
    r"(?:/tables/(?P<table>[^/]+))?$"
)
_JOBS_RE = re.compile(r"^/bigquery/v2/projects/(?P<project>[^/]+)/(?P<kind>jobs|queries)$")
# How often the serving thread looks for a shutdown: stop() waits up to this long.
POLL_INTERVAL = 0.01
_FROM_RE = re.compile(r"FROM `(?P<project>[^.`]+)\.(?P<dataset>[^.`]+)\.(?P<table>[^.`]+)`")
_STATUS_NAMES = {
    400: ("INVALID_ARGUMENT", "invalid"),
    401: ("UNAUTHENTICATED", "unauthorized"),
    403: ("PERMISSION_DENIED", "accessDenied"),
    404: ("NOT_FOUND", "notFound"),
    500: ("INTERNAL", "backendError"),
    501: ("UNIMPLEMENTED", "notImplemented"),
    503: ("UNAVAILABLE", "backendError"),
}


def live_dataset(declaration: Declaration) -> dict:
    """The dataset as BigQuery's `datasets.get` reports it after it was created as declared."""
    spec = declaration.dataset
    body = copy.deepcopy(spec.api_repr())
    body.update(
        {
            "kind": "bigquery#dataset",
            "etag": "etag-dataset",
            "id": f"{spec.project}:{spec.dataset_id}",
            "type": "DEFAULT",
            "creationTime": "1700000000000",
            "lastModifiedTime": "1700000000000",
            "access": [{"role": "OWNER", "specialGroup": "projectOwners"}],
        }
    )
    return body


def live_table(declaration: Declaration) -> dict:
    """The table as BigQuery's `tables.get` reports it after it was created as declared."""
    spec = declaration.table
    body = copy.deepcopy(spec.api_repr())
    body.update(
        {
            "kind": "bigquery#table",
            "etag": "etag-table",
            "id": f"{spec.project}:{spec.dataset_id}.{spec.table_id}",
            "type": "TABLE",
            "location": declaration.dataset.location,
            "numRows": "0",
            "numBytes": "0",
            "creationTime": "1700000000000",
            "lastModifiedTime": "1700000000000",
        }
    )
    # BigQuery leaves false booleans out of its answers.
    if not body.get("requirePartitionFilter"):
        body.pop("requirePartitionFilter", None)
    return body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen() backlog: many stacks connect at once


@dataclass(frozen=True)
class Fault:
    """An answer other than the resource: an HTTP error and/or a delay, `times` times. The
    error's reason is BigQuery's for the status unless given (e.g. bytesBilledLimitExceeded)."""

    status: int | None = 500
    delay: float = 0.0
    times: int | None = 1  # None: for ever
    reason: str | None = None


@dataclass(frozen=True)
class Call:
    """One request as the stub received it."""

    method: str
    path: str
    body: dict


# An answer of one's own: (status, content type, body), or None to drip a body for ever.
Answer = Callable[["Call"], "tuple[int, str, bytes] | None"]


class StubBigQuery:
    """Holds datasets and tables as REST payloads and serves them on 127.0.0.1."""

    def __init__(
        self,
        delay: float = 0.0,
        bytes_processed: int = 0,
        answer: Answer | None = None,
        drip_every: float = 0.5,
    ) -> None:
        self.delay = delay
        self.answer = answer
        self.drip_every = drip_every  # seconds between the bytes of a dripped answer
        self.datasets: dict[tuple[str, str], dict] = {}
        self.tables: dict[tuple[str, str, str], dict] = {}
        # Each table's events as (occurred_at, event_type), for the freshness query.
        self.rows: dict[tuple[str, str, str], list[tuple[datetime, str]]] = defaultdict(list)
        # What a dry run, and the query, say the query processes.
        self.bytes_processed = bytes_processed
        self.requests: dict[str, int] = defaultdict(int)
        self.calls: list[Call] = []
        self.authorizations: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        # The OAuth token endpoint a service account key may name as its token_uri.
        self.token_status = 200
        self.access_token = "stub-access-token"
        self._faults: dict[str, list[Fault]] = defaultdict(list)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- content -----------------------------------------------------------------------
    def put(self, declaration: Declaration, dataset: dict | None = None, table: dict | None = None):
        """Hold the declared dataset and table (or the given payloads) for this declaration."""
        spec = declaration.dataset
        self.datasets[(spec.project, spec.dataset_id)] = dataset or live_dataset(declaration)
        self.tables[(spec.project, spec.dataset_id, declaration.table.table_id)] = (
            table or live_table(declaration)
        )

    def events(self, declaration: Declaration, rows: Iterable[tuple[datetime, str]]) -> None:
        """Hold these events in the declared table and count them in its `numRows` (as
        BigQuery does once its streaming buffer is flushed)."""
        spec = declaration.table
        key = (spec.project, spec.dataset_id, spec.table_id)
        self.rows[key].extend(rows)
        if key in self.tables:
            self.tables[key]["numRows"] = str(len(self.rows[key]))

    def fault(self, path: str, fault: Fault) -> None:
        """Answer requests for `path` (e.g. /bigquery/v2/projects/p/datasets/d) with `fault`."""
        with self._lock:
            self._faults[path].append(fault)

    def bodies(self, kind: str) -> list[dict]:
        """What reached `jobs.insert` ("jobs") or `jobs.query` ("queries"), in order."""
        return [
            call.body
            for call in self.calls
            if (match := _JOBS_RE.match(call.path)) and match["kind"] == kind
        ]

    # -- server ------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StubBigQuery:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # http.server's naming
                stub._answer(self, "GET")

            def do_POST(self) -> None:
                stub._answer(self, "POST")

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_INTERVAL,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubBigQuery:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering ---------------------------------------------------------------------
    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            if not queue:
                return None
            fault = queue[0]
            if fault.times is not None:
                remaining = fault.times - 1
                if remaining <= 0:
                    queue.pop(0)
                else:
                    queue[0] = Fault(fault.status, fault.delay, remaining, fault.reason)
            return fault

    @property
    def token_uri(self) -> str:
        return f"{self.endpoint}/token"

    def _token(self, handler: BaseHTTPRequestHandler) -> None:
        if self.token_status != 200:
            body = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            return self._send(handler, self.token_status, body)
        body = {"access_token": self.access_token, "expires_in": 3600, "token_type": "Bearer"}
        self._send(handler, 200, body)

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?", 1)[0]
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if path == "/token":
            return self._token(handler)
        call = Call(method, path, json.loads(raw) if raw else {})
        with self._lock:
            self.requests[path] += 1
            self.calls.append(call)
            self.authorizations.append(handler.headers.get("Authorization") or "")
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._respond(handler, call)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _respond(self, handler: BaseHTTPRequestHandler, call: Call) -> None:
        path = call.path
        if self.delay:
            time.sleep(self.delay)
        if self.answer is not None:
            return self._raw(handler, self.answer(call), self.drip_every)
        fault = self._next_fault(path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                message = f"stub fault for {path}"
                return self._error(handler, fault.status, message, fault.reason)
        jobs = _JOBS_RE.match(path)
        if call.method == "POST" and jobs is not None:
            return self._query(handler, jobs["project"], jobs["kind"], call.body)
        match = _PATH_RE.match(path) if call.method == "GET" else None
        if match is None:
            return self._error(handler, 404, f"Not found: URL {path}")
        project, dataset, table = match["project"], match["dataset"], match["table"]
        if table is None:
            resource = self.datasets.get((project, dataset))
            missing = f"Not found: Dataset {project}:{dataset}"
        else:
            resource = self.tables.get((project, dataset, table))
            if (project, dataset) not in self.datasets:
                missing = f"Not found: Dataset {project}:{dataset}"
            else:
                missing = f"Not found: Table {project}:{dataset}.{table}"
        if resource is None:
            return self._error(handler, 404, missing)
        self._send(handler, 200, resource)

    def _query(self, handler: BaseHTTPRequestHandler, project: str, kind: str, body: dict):
        """A dry run (jobs.insert or jobs.query with dryRun), or the freshness query."""
        sql = (body.get("configuration", {}).get("query") or body).get("query", "")
        source = _FROM_RE.search(sql)
        key = None if source is None else (source["project"], source["dataset"], source["table"])
        dry_run = _is_dry_run(kind, body)
        if not dry_run and (kind != "queries" or NEWEST_CHECK not in sql):
            return self._error(handler, 400, "only dry runs and the freshness query run here")
        held = key is not None and key[:2] in self.datasets
        if (held or not dry_run) and key not in self.tables:
            where = key and f"{key[0]}:{key[1]}.{key[2]}"
            return self._error(handler, 404 if key else 400, f"Not found: Table {where}")
        total = str(self.bytes_processed)
        if kind == "jobs" and body.get("configuration", {}).get("dryRun"):
            reference = {**body.get("jobReference", {}), "projectId": project}
            location = reference.get("location", "US")
            statistics = {
                "totalBytesProcessed": total,
                "totalBytesBilled": "0",
                "cacheHit": False,
                "statementType": "SELECT",
            }
            job = {
                "kind": "bigquery#job",
                "id": f"{project}:{location}.{reference['jobId']}",
                "jobReference": reference,
                "configuration": body["configuration"],
                "status": {"state": "DONE"},
                "statistics": {
                    "creationTime": "1764230400000",
                    "totalBytesProcessed": total,
                    "query": statistics,
                },
            }
            return self._send(handler, 200, job)
        if kind == "queries" and body.get("dryRun"):
            answer = {
                "kind": "bigquery#queryResponse",
                "jobReference": {"projectId": project},
                "totalBytesProcessed": total,
                "jobComplete": True,
                "cacheHit": False,
            }
            return self._send(handler, 200, answer)
        parameters = {p["name"]: p["parameterValue"]["value"] for p in body["queryParameters"]}
        since = datetime.fromisoformat(parameters["since"].replace(" ", "T"))
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        rows = [(at, kind) for at, kind in self.rows[key] if at >= since]
        newest = max((at for at, _kind in rows), default=None)
        newest_check = max(
            (at for at, kind in rows if kind == parameters["check_type"]), default=None
        )
        micros = (body.get("formatOptions") or {}).get("useInt64Timestamp")
        answer = {
            "kind": "bigquery#queryResponse",
            "schema": {
                "fields": [
                    {"name": NEWEST_EVENT, "type": "TIMESTAMP", "mode": "NULLABLE"},
                    {"name": NEWEST_CHECK, "type": "TIMESTAMP", "mode": "NULLABLE"},
                ]
            },
            "jobReference": {"projectId": project, "jobId": uuid.uuid4().hex},
            "totalRows": "1",
            "rows": [
                {"f": [{"v": _timestamp(newest, micros)}, {"v": _timestamp(newest_check, micros)}]}
            ],
            "totalBytesProcessed": total,
            "jobComplete": True,
            "cacheHit": False,
        }
        return self._send(handler, 200, answer)

    def _error(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        message: str,
        reason: str | None = None,
    ) -> None:
        name, default_reason = _STATUS_NAMES.get(status, ("UNKNOWN", "backendError"))
        reason = reason or default_reason
        body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
                "status": name,
            }
        }
        self._send(handler, status, body)

    @staticmethod
    def _raw(
        handler: BaseHTTPRequestHandler, reply: tuple[int, str, bytes] | None, every: float
    ) -> None:
        try:
            if reply is None:  # headers, then a byte every `every` seconds, until the client leaves
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", "100000")
                handler.end_headers()
                while True:
                    handler.wfile.write(b" ")
                    handler.wfile.flush()
                    time.sleep(every)
            status, kind, body = reply
            handler.send_response(status)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass  # the client gave up

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=UTF-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a deadline shorter than our delay)


def _timestamp(moment: datetime | None, micros: bool) -> str | None:
    """A TIMESTAMP cell as BigQuery writes it: microseconds when the request asks for int64
    timestamps (formatOptions.useInt64Timestamp), else seconds as a float."""
    if moment is None:
        return None
    seconds = moment.timestamp()
    return str(round(seconds * 1_000_000)) if micros else f"{seconds:.6f}"


def _is_dry_run(kind: str, body: dict) -> bool:
    return bool(body.get("dryRun") if kind == "queries" else body["configuration"].get("dryRun"))
