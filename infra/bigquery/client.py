"""A google-cloud-bigquery client for a stack: credentials, endpoint and short deadlines.

Credentials, in order: the service account key JSON in BIGQUERY_DFE_ANALYTICS_API_JSON_KEY
(the variable the team already uses), else Application Default Credentials (which read
GOOGLE_APPLICATION_CREDENTIALS, workload identity federation or gcloud's login). With an
explicit API endpoint (a local emulator) and neither set, requests go anonymously. Credential
values are never printed, and never sent over plain http:// except to a loopback address.

Every request has a total deadline (infra.bigquery.http): connecting and reading the whole
answer within CALL_TIMEOUT seconds; a transient failure is retried for RETRY_DEADLINE seconds
at most.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import google.auth
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import bigquery
from google.oauth2 import service_account

from infra.bigquery.http import DeadlineAuthorizedSession
from infra.errors import InvalidValue, UserError, one_line

KEY_JSON_ENV = "BIGQUERY_DFE_ANALYTICS_API_JSON_KEY"
ADC_FILE_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
SCOPES = ("https://www.googleapis.com/auth/bigquery",)
# The client's default retry waits up to 10 minutes; a check must answer in seconds.
CALL_TIMEOUT = 10.0
RETRY_DEADLINE = 8.0
RETRY = bigquery.DEFAULT_RETRY.with_deadline(RETRY_DEADLINE).with_delay(
    initial=0.2, maximum=1.0, multiplier=2.0
)
_ENDPOINT_RE = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(?::[0-9]{1,5})?/?")
ENDPOINT_ACCEPTED = (
    "give https://HOST[:PORT], or http://HOST[:PORT] on loopback only (127.0.0.1, [::1], "
    "localhost), e.g. http://127.0.0.1:9050"
)


@dataclass(frozen=True)
class Deadlines:
    """How long one API call may take, and the bounded retry around it."""

    timeout: float = CALL_TIMEOUT
    retry: object = RETRY

    @property
    def retry_seconds(self) -> float | None:
        """How long the retry goes on after the first attempt, as "gave up after" names it."""
        return getattr(self.retry, "timeout", None) or getattr(self.retry, "deadline", None)


DEFAULT_DEADLINES = Deadlines()


def check_endpoint(endpoint: str) -> str:
    """An API endpoint URL without its trailing slash, or InvalidValue: an empty one (which would
    mean BigQuery itself), one without a usable host and port, and plain http:// to anything
    but loopback (credentials would cross the network in clear) are refused."""
    if not _ENDPOINT_RE.fullmatch(endpoint) or not _host_and_port_parse(endpoint):
        raise InvalidValue(f"is not accepted: {ENDPOINT_ACCEPTED}")
    if urlsplit(endpoint).scheme == "http" and not is_loopback(endpoint):
        raise InvalidValue(
            f"is not accepted: plain http:// is for loopback only; {ENDPOINT_ACCEPTED}"
        )
    return endpoint.rstrip("/")


def _host_and_port_parse(endpoint: str) -> bool:
    """Whether the URL has a host and, if any, a port from 1 to 65535 (the pattern above lets
    through `127.0.0.1:99999` and `[::1`, which requests refuses at the first call)."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return False
    return bool(parts.hostname) and (port is None or 1 <= port <= 65535)


def is_loopback(endpoint: str) -> bool:
    """Whether the endpoint's host is this machine: localhost, 127.0.0.0/8 or ::1."""
    host = (urlsplit(endpoint).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_plain_http(endpoint: str | None) -> bool:
    return endpoint is not None and urlsplit(endpoint).scheme == "http"


def credentials(api_endpoint: str | None, env: Mapping[str, str] = os.environ) -> Credentials:
    """The credentials to use, or UserError naming what is missing or malformed."""
    key_json = env.get(KEY_JSON_ENV)
    if key_json:
        try:
            info = json.loads(key_json)
            if not isinstance(info, dict):
                raise ValueError("not a JSON object")
            return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        except (ValueError, TypeError, KeyError):
            raise UserError(
                f"{KEY_JSON_ENV} is set but is not a service account key file's JSON content"
            ) from None
    if api_endpoint and not env.get(ADC_FILE_ENV):
        return AnonymousCredentials()
    try:
        found, _project = google.auth.default(scopes=SCOPES)
    except (DefaultCredentialsError, OSError, ValueError, AttributeError, TypeError) as exc:
        # Beside DefaultCredentialsError, google.auth lets through the OSError of a file it
        # cannot read (a directory) and the AttributeError of JSON that is not an object.
        first = one_line(exc, "none found")
        if not isinstance(exc, DefaultCredentialsError):
            first = f"{ADC_FILE_ENV} {env.get(ADC_FILE_ENV) or ''} is unusable: {first}"
        raise UserError(
            f"no Google credentials ({first.rstrip('.')}); set {KEY_JSON_ENV} or "
            f"{ADC_FILE_ENV}, or run 'gcloud auth application-default login'"
        ) from None
    return found


def make_client(
    project: str,
    api_endpoint: str | None = None,
    env: Mapping[str, str] = os.environ,
    deadlines: Deadlines = DEFAULT_DEADLINES,
) -> bigquery.Client:
    """A client for `project`, against `api_endpoint` when given (e.g. a local emulator), whose
    every request ends within `deadlines.timeout` seconds. Credentials come from `env`: a caller
    passes NO_CREDENTIALS (infra.bigquery.local) for anonymous requests."""
    endpoint = None
    if api_endpoint is not None:
        try:
            endpoint = check_endpoint(api_endpoint)
        except InvalidValue as exc:
            raise UserError(f"API endpoint {api_endpoint!r} {exc}") from None
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    found = credentials(endpoint, env)
    return bigquery.Client(
        project=project,
        credentials=found,
        client_options=options,
        _http=DeadlineAuthorizedSession(found, deadlines.timeout),
    )
