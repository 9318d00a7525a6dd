"""A realistic, deterministic sample of the events the NPQ app streams, for a local emulator.

Shaped like what DfE::Analytics sends: web requests of registration journeys and of lead
providers' API calls, the entity events they cause (with DATA, and hidden_DATA for the fields
in the app's hidden-PII config), the app's custom events (persist_api_request, version), a
nightly entity table check per table, an import with its import check, and the
initialise_analytics event of each deploy. The same (now, seed, environment, namespace) give
the same rows. Every value is invented.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from infra.model import schema
from infra.model.events import ENTITY_TABLE_CHECK

DEFAULT_SEED = 20261101
DEFAULT_DAYS = 7
DEFAULT_NAMESPACE = "npq-registration"
ANALYTICS_VERSION = "1.15.2"
CHECKED_TABLES = ("applications", "users", "courses", "lead_providers", "registration_interests")
COURSES = (
    ("npq-senior-leadership", "NPQ for Senior Leadership (NPQSL)"),
    ("npq-headship", "NPQ for Headship (NPQH)"),
    ("npq-leading-teaching", "NPQ for Leading Teaching (NPQLT)"),
    ("npq-leading-behaviour-culture", "NPQ for Leading Behaviour and Culture (NPQLBC)"),
    ("npq-early-years-leadership", "NPQ for Early Years Leadership (NPQEYL)"),
)
LEAD_PROVIDERS = (
    "Ambition Institute",
    "Best Practice Network",
    "Church of England",
    "Education Development Trust",
    "Teacher Development Trust",
    "UCL Institute of Education",
)
JOURNEY = (
    ("GET", "/", "200"),
    ("GET", "/registration/start", "200"),
    ("GET", "/users/auth/tra_openid_connect/callback", "302"),
    ("GET", "/registration/teacher-catchment", "200"),
    ("POST", "/registration/teacher-catchment", "302"),
    ("GET", "/registration/work-setting", "200"),
    ("POST", "/registration/work-setting", "302"),
    ("GET", "/registration/choose-your-npq", "200"),
    ("POST", "/registration/choose-your-npq", "302"),
    ("GET", "/registration/choose-your-provider", "200"),
    ("POST", "/registration/choose-your-provider", "302"),
    ("GET", "/registration/check-answers", "200"),
    ("POST", "/registration/check-answers", "302"),
    ("GET", "/registration/confirmation", "200"),
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
)
HTML = "text/html; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class _Sample:
    """Accumulates rows; every row gets the same environment and namespace."""

    rng: random.Random
    environment: str
    namespace: str
    now: datetime
    rows: list[dict] = field(default_factory=list)
    next_id: int = 1000

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def entity_id(self) -> str:
        self.next_id += self.rng.randint(1, 9)
        return str(self.next_id)

    def add(self, at: datetime, event_type: str, columns: dict | None = None) -> None:
        # Sub-second jitter as real clocks give; small enough to keep a request's events in order.
        at += timedelta(microseconds=self.rng.randint(0, 40_000))
        if not at < self.now:
            raise ValueError(f"sample event at {at} is not before {self.now}")
        row = {
            schema.OCCURRED_AT: at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            schema.EVENT_TYPE: event_type,
            schema.ENVIRONMENT: self.environment,
            schema.NAMESPACE: self.namespace,
        }
        for name, value in (columns or {}).items():
            if value is None:
                continue
            row[name] = _key_values(value) if name in schema.KEY_VALUE_COLUMNS else value
        self.rows.append(row)


def sample_events(
    now: datetime,
    environment: str,
    namespace: str = DEFAULT_NAMESPACE,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
) -> list[dict]:
    """Rows as `insert_rows_json` takes them, all in [now - days, now), oldest first."""
    now = now.astimezone(UTC).replace(microsecond=0)
    start = now - timedelta(days=days)
    sample = _Sample(random.Random(seed), environment, namespace, now)
    _deploy(sample, start + timedelta(minutes=5))
    if days > 2:
        _deploy(sample, start + timedelta(days=days // 2, hours=9, minutes=12))
    for day in range(days + 1):
        midnight = datetime.combine((start + timedelta(days=day)).date(), datetime.min.time(), UTC)
        _nightly_checks(sample, midnight + timedelta(minutes=30), start)
        for _ in range(sample.rng.randint(3, 5)):
            _journey(sample, _working_time(sample, midnight), start)
        for _ in range(sample.rng.randint(4, 7)):
            _api_call(sample, _working_time(sample, midnight), start)
        for _ in range(sample.rng.randint(1, 2)):
            _interest_deleted(sample, _working_time(sample, midnight), start)
    _course_import(sample, start + timedelta(days=min(1, days - 1), hours=2))
    return sorted(sample.rows, key=lambda row: row[schema.OCCURRED_AT])


def _working_time(sample: _Sample, midnight: datetime) -> datetime:
    return midnight + timedelta(seconds=sample.rng.randint(7 * 3600, 21 * 3600))


def _inside(sample: _Sample, at: datetime, start: datetime, span: timedelta) -> bool:
    """Whether a burst of events from `at` lasting up to `span` falls inside the window."""
    return at >= start and at + span < sample.now


def _deploy(sample: _Sample, at: datetime) -> None:
    config = {
        "pseudonymise_web_request_user_id": False,
        "entity_table_checks_enabled": True,
        "rack_page_cached": False,
    }
    if _inside(sample, at, at, timedelta(seconds=1)):
        sample.add(
            at,
            "initialise_analytics",
            {
                schema.DATA: {"analytics_version": ANALYTICS_VERSION, "config": json.dumps(config)},
            },
        )


def _nightly_checks(sample: _Sample, at: datetime, start: datetime) -> None:
    if not _inside(sample, at, start, timedelta(minutes=5)):
        return
    check_id = sample.uuid()
    for offset, table in enumerate(CHECKED_TABLES):
        sample.add(
            at + timedelta(seconds=offset * 7),
            ENTITY_TABLE_CHECK,
            {
                schema.ENTITY_TABLE_NAME: table,
                schema.EVENT_TAGS: [check_id],
                schema.DATA: _check_data(sample, at),
            },
        )


def _check_data(sample: _Sample, at: datetime) -> dict:
    return {
        "row_count": str(sample.rng.randint(2_000, 90_000)),
        "checksum": hashlib.md5(sample.uuid().encode(), usedforsecurity=False).hexdigest(),
        "checksum_calculated_at": at.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        "order_column": "UPDATED_AT",
    }


def _journey(sample: _Sample, at: datetime, start: datetime) -> None:
    """A teacher registers for an NPQ: a dozen page views and the entities they create."""
    rng = sample.rng
    if not _inside(sample, at, start, timedelta(minutes=15)):
        return
    agent = rng.choice(USER_AGENTS)
    anonymised = hashlib.sha256(f"{agent}{rng.random()}".encode()).hexdigest()
    user_id = sample.entity_id()
    application_id = sample.entity_id()
    course, _name = rng.choice(COURSES)
    provider = rng.randrange(len(LEAD_PROVIDERS)) + 1
    signed_in = False
    previous = "https://www.gov.uk/guidance/national-professional-qualification-npq-courses"
    for method, path, status in JOURNEY:
        at += timedelta(seconds=rng.randint(8, 60))
        request_uuid = sample.uuid()
        query = {"utm_source": "gov-uk", "utm_campaign": "npq"} if path == "/" else None
        if path.endswith("/callback"):
            query = {"state": sample.uuid()[:16]}
            signed_in = True
        sample.add(
            at,
            "web_request",
            {
                schema.REQUEST_UUID: request_uuid,
                schema.REQUEST_METHOD: method,
                schema.REQUEST_PATH: path,
                schema.REQUEST_USER_AGENT: agent,
                schema.REQUEST_REFERER: previous,
                schema.REQUEST_QUERY: query,
                schema.RESPONSE_CONTENT_TYPE: HTML,
                schema.RESPONSE_STATUS: status,
                schema.ANONYMISED_USER_AGENT_AND_IP: anonymised,
                schema.USER_ID: user_id if signed_in else None,
            },
        )
        previous = f"https://register-national-professional-qualifications.education.gov.uk{path}"
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if path.endswith("/callback"):
            sample.add(
                at + timedelta(milliseconds=300),
                "create_entity",
                {
                    schema.REQUEST_UUID: request_uuid,
                    schema.ENTITY_TABLE_NAME: "users",
                    schema.USER_ID: user_id,
                    schema.DATA: {
                        "id": user_id,
                        "uid": sample.uuid(),
                        "trn_verified": "true",
                        "trn_lookup_status": "Found",
                        "created_at": stamp,
                        "updated_at": stamp,
                    },
                    schema.HIDDEN_DATA: {"trn": str(rng.randint(1_000_000, 9_999_999))},
                },
            )
        if method == "POST" and path == "/registration/check-answers":
            sample.add(
                at + timedelta(milliseconds=400),
                "create_entity",
                {
                    schema.REQUEST_UUID: request_uuid,
                    schema.ENTITY_TABLE_NAME: "applications",
                    schema.USER_ID: user_id,
                    schema.DATA: {
                        "id": application_id,
                        "user_id": user_id,
                        "course_identifier": course,
                        "lead_provider_id": str(provider),
                        "school_urn": str(rng.randint(100_000, 149_999)),
                        "funding_choice": rng.choice(["school", "trust", "self", "another"]),
                        "lead_provider_approval_status": "pending",
                        "created_at": stamp,
                        "updated_at": stamp,
                    },
                    schema.HIDDEN_DATA: {
                        "on_submission_trn": str(rng.randint(1_000_000, 9_999_999))
                    },
                },
            )
            sample.add(
                at + timedelta(milliseconds=450),
                "version",
                {
                    schema.REQUEST_UUID: request_uuid,
                    schema.USER_ID: user_id,
                    schema.DATA: {
                        "item_type": "Application",
                        "item_id": application_id,
                        "event": "create",
                        "whodunnit": user_id,
                    },
                },
            )


def _api_call(sample: _Sample, at: datetime, start: datetime) -> None:
    """A lead provider's API call, and the custom event that records it."""
    rng = sample.rng
    if not _inside(sample, at, start, timedelta(minutes=1)):
        return
    provider = rng.choice(LEAD_PROVIDERS)
    accept = rng.random() < 0.3
    application_id = str(rng.randint(1000, sample.next_id))
    if accept:
        method, path, query = "POST", f"/api/v3/npq-applications/{application_id}/accept", None
    else:
        method, path = "GET", "/api/v3/npq-applications"
        query = {
            "filter[cohort]": "2025",
            "filter[updated_since]": (at - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "page[page]": str(rng.randint(1, 4)),
            "page[per_page]": "100",
        }
    request_uuid = sample.uuid()
    sample.add(
        at,
        "web_request",
        {
            schema.REQUEST_UUID: request_uuid,
            schema.REQUEST_METHOD: method,
            schema.REQUEST_PATH: path,
            schema.REQUEST_USER_AGENT: "Faraday v2.12.2",
            schema.REQUEST_QUERY: query,
            schema.RESPONSE_CONTENT_TYPE: JSON_TYPE,
            schema.RESPONSE_STATUS: "200",
            schema.ANONYMISED_USER_AGENT_AND_IP: hashlib.sha256(provider.encode()).hexdigest(),
        },
    )
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if accept:
        sample.add(
            at + timedelta(milliseconds=200),
            "update_entity",
            {
                schema.REQUEST_UUID: request_uuid,
                schema.ENTITY_TABLE_NAME: "applications",
                schema.DATA: {
                    "id": application_id,
                    "lead_provider_approval_status": "accepted",
                    "updated_at": stamp,
                },
            },
        )
        sample.add(
            at + timedelta(milliseconds=250),
            "version",
            {
                schema.REQUEST_UUID: request_uuid,
                schema.DATA: {
                    "item_type": "Application",
                    "item_id": application_id,
                    "event": "update",
                },
            },
        )
    sample.add(
        at + timedelta(seconds=2),
        "persist_api_request",
        {
            schema.REQUEST_UUID: request_uuid,
            schema.DATA: {
                "request_path": path,
                "request_method": method,
                "request_headers": json.dumps({"HTTP_ACCEPT": "application/json"}),
                "request_body": "{}" if accept else "",
                "response_headers": json.dumps({"Content-Type": "application/json"}),
                "response_body": json.dumps(
                    {"data": [{"id": application_id, "type": "application"}]}
                ),
                "status_code": "200",
                "user_description": f"Lead provider: {provider}",
                "lead_provider": provider,
                "created_at": stamp,
            },
        },
    )


def _interest_deleted(sample: _Sample, at: datetime, start: datetime) -> None:
    """Someone withdraws their interest in a course: its row is deleted."""
    if not _inside(sample, at, start, timedelta(seconds=1)):
        return
    sample.add(
        at,
        "delete_entity",
        {
            schema.ENTITY_TABLE_NAME: "registration_interests",
            schema.DATA: {"id": sample.entity_id(), "notified": "false"},
            schema.HIDDEN_DATA: {"email": f"teacher{sample.rng.randint(100, 999)}@example.com"},
        },
    )


def _course_import(sample: _Sample, at: datetime) -> None:
    """A full import of the courses table (dfe:analytics:import_entity) and its check."""
    if not _inside(sample, at, at, timedelta(minutes=1)):
        return
    import_id = sample.uuid()
    for position, (identifier, name) in enumerate(COURSES, start=1):
        sample.add(
            at + timedelta(seconds=position),
            "import_entity",
            {
                schema.ENTITY_TABLE_NAME: "courses",
                schema.EVENT_TAGS: [import_id],
                schema.DATA: {
                    "id": str(position),
                    "identifier": identifier,
                    "name": name,
                    "position": str(position),
                    "display": "true",
                },
            },
        )
    sample.add(
        at + timedelta(seconds=30),
        "import_entity_table_check",
        {
            schema.ENTITY_TABLE_NAME: "courses",
            schema.EVENT_TAGS: [import_id],
            schema.DATA: _check_data(sample, at) | {"row_count": str(len(COURSES))},
        },
    )


def _key_values(pairs: dict[str, str]) -> list[dict]:
    return [{schema.KEY: key, schema.VALUE: [value]} for key, value in pairs.items()]
