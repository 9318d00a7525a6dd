"""The byte ceiling: records refuses, before running anything, a query the dry run prices high.

bqemulator always reports 0 bytes for a dry run, so a small loopback server stands in for
BigQuery here. It answers jobs.insert (what google-cloud-bigquery's `Client.query` sends) and
jobs.query in BigQuery's REST shapes, with a dry-run job whose statistics say how many bytes
the query would process, and records every request so the test can see what reached it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from infra.errors import EXIT_USAGE
from infra.model.declared import declare
from infra.model.stackfiles import settings_for
from tests.helpers import NO_CREDENTIALS, run_cli

FIVE_TB = 5 * 10**12
HOSTILE = "x' OR '1'='1"


@dataclass
class FakeBigQuery:
    """What the stand-in was asked, and the byte count its dry runs report."""

    bytes_processed: int
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    endpoint: str = ""

    def jobs(self) -> list[dict]:
        return [body for method, path, body in self.requests if path.endswith("/jobs")]


def _handler(fake: FakeBigQuery) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            path = self.path.split("?", 1)[0]
            fake.requests.append(("POST", path, body))
            project = path.split("/projects/", 1)[1].split("/", 1)[0]
            total = str(fake.bytes_processed)
            if path.endswith("/jobs"):
                config = body.get("configuration", {})
                if not config.get("dryRun"):
                    return self._send(400, _error("only dry runs are answered here"))
                reference = {**body.get("jobReference", {}), "projectId": project}
                return self._send(
                    200,
                    {
                        "kind": "bigquery#job",
                        "id": f"{project}:{reference.get('location', 'EU')}.{reference['jobId']}",
                        "jobReference": reference,
                        "configuration": config,
                        "status": {"state": "DONE"},
                        "statistics": {
                            "creationTime": "1764230400000",
                            "totalBytesProcessed": total,
                            "query": {
                                "totalBytesProcessed": total,
                                "totalBytesBilled": "0",
                                "cacheHit": False,
                                "statementType": "SELECT",
                            },
                        },
                    },
                )
            if path.endswith("/queries") and body.get("dryRun"):
                return self._send(
                    200,
                    {
                        "kind": "bigquery#queryResponse",
                        "jobReference": {"projectId": project},
                        "totalBytesProcessed": total,
                        "jobComplete": True,
                        "cacheHit": False,
                    },
                )
            return self._send(404, _error(f"not served here: {path}"))

        def _send(self, status: int, document: dict) -> None:
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _error(message: str) -> dict:
    return {"error": {"code": 400, "message": message, "errors": [{"reason": "invalid"}]}}


@pytest.fixture
def fake_bigquery() -> Iterator[FakeBigQuery]:
    fake = FakeBigQuery(bytes_processed=FIVE_TB)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def test_a_query_priced_above_max_bytes_is_refused_before_it_runs(fake_bigquery):
    result = run_cli(
        "records",
        "--stack",
        "production",
        "--since",
        "30d",
        "--max-bytes",
        "1GB",
        "--api-endpoint",
        fake_bigquery.endpoint,
        env=NO_CREDENTIALS,
    )
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("npq-events: error")]
    assert len(errors) == 1
    assert "5 TB" in errors[0] and "--max-bytes 1 GB" in errors[0]
    assert "--since/--until" in errors[0] and "raise --max-bytes" in errors[0]
    # Exactly one request reached BigQuery: the dry run. Nothing was read or billed.
    (job,) = fake_bigquery.jobs()
    assert len(fake_bigquery.requests) == 1
    assert job["configuration"]["dryRun"] is True
    assert job["jobReference"]["location"] == declare(settings_for("production")).dataset.location


def test_the_bytes_are_printed_and_a_raised_ceiling_lets_the_dry_run_pass(fake_bigquery):
    fake_bigquery.bytes_processed = 2_500_000
    result = run_cli(
        "records",
        "--stack",
        "staging",
        "--format",
        "json",
        "--max-bytes",
        "1MB",
        "--api-endpoint",
        fake_bigquery.endpoint,
        env=NO_CREDENTIALS,
    )
    assert result.returncode == 1
    assert result.stdout == ""  # machine formats keep stdout for the data
    assert "2.5 MB to process" in result.stderr

    result = run_cli(
        "records",
        "--stack",
        "staging",
        "--format",
        "json",
        "--max-bytes",
        "3MB",
        "--api-endpoint",
        fake_bigquery.endpoint,
        env=NO_CREDENTIALS,
    )
    # Past the ceiling, the real query runs: this stand-in answers only dry runs, so it fails
    # with one line (exit 2) after the one real query reached it.
    assert result.returncode == EXIT_USAGE, result.stderr
    dry, real = fake_bigquery.jobs()[-2:]
    assert dry["configuration"]["dryRun"] is True
    assert not real["configuration"].get("dryRun")
    assert int(real["configuration"]["query"]["maximumBytesBilled"]) >= 3 * 10**6
    assert result.stderr.strip().splitlines()[-1].startswith("npq-events: error: reading ")


def test_user_values_travel_as_query_parameters_never_as_sql(fake_bigquery):
    result = run_cli(
        "records",
        "--stack",
        "staging",
        "--event-type",
        HOSTILE,
        "web_request",
        "--namespace",
        HOSTILE,
        "--entity-table",
        HOSTILE,
        "--api-endpoint",
        fake_bigquery.endpoint,
        env=NO_CREDENTIALS,
    )
    assert result.returncode == 1, result.stderr
    (job,) = fake_bigquery.jobs()
    query = job["configuration"]["query"]
    assert HOSTILE not in query["query"]
    assert query["useLegacySql"] is False
    parameters = {p["name"]: p for p in query["queryParameters"]}
    assert parameters["namespace"]["parameterValue"]["value"] == HOSTILE
    assert parameters["entity_table"]["parameterValue"]["value"] == HOSTILE
    assert [v["value"] for v in parameters["event_types"]["parameterValue"]["arrayValues"]] == [
        HOSTILE,
        "web_request",
    ]
    assert {"since", "until", "limit"} <= set(parameters)
