"""Errors a user can cause, each with the exit status the CLI documents, and the one translator
from any exception to the one line the CLI prints for it (`explain`)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FINDINGS = 1  # drift found, or a destructive change
EXIT_USAGE = 2  # bad input, bad config, could not check, or an internal error
EXIT_STALE = 3  # the schema lock is stale but every change is safe
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
DEBUG_ENV = "NPQ_EVENTS_DEBUG"  # "1": an internal error also prints its traceback
MAX_LINE = 1000  # a server or a tool may answer with pages; a line stays readable


class UserError(Exception):
    """Something the user can fix; the CLI prints the message as one line."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class BadInput(ValueError):
    """Input (a file, a config value, an answer) that is not accepted; str() is the one line to
    show, naming what was read and what is accepted."""


class UnexpectedAnswer(BadInput):
    """An answer (from BigQuery, or an endpoint posing as it) outside the shapes BigQuery's API
    documents; the message says what was missing."""


class InvalidValue(ValueError):
    """A value of the wrong form or out of range. The message is a predicate such as `is not
    accepted: give a whole number from 1 to 10000`: the caller names whose value it is (a flag,
    a key), e.g. `--limit '0' is not accepted: ...`. `part` is the item at fault when the value
    is a list (`--closed item ' 15' is not accepted: ...`)."""

    def __init__(self, message: str, part: str | None = None) -> None:
        super().__init__(message)
        self.part = part


class SchemaError(ValueError):
    """The schema breaks one of BigQuery's rules or the table's own."""


@dataclass(frozen=True)
class Failure:
    """What the CLI says about an exception, and the status it exits with."""

    message: str
    exit_code: int = EXIT_USAGE
    internal: bool = False  # not a failure the code knows: a bug, printed as an internal error


# The operating system's reason inside a library's message: "[Errno 111] Connection refused".
_ERRNO_RE = re.compile(r"\[Errno -?[0-9]+\] ([^'\")\]]+)")
# Control characters (C0 but newline and tab, DEL, C1) and Unicode format characters (Cf).
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891"
    "\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
# The seconds in requests' and infra.bigquery.http's timeout messages.
_TIMEOUT_RE = re.compile(r"(?:timeout=|within the )([0-9]+(?:\.[0-9]+)?)")
# Terminal control sequences (CSI such as colours, OSC such as titles and links) and the other
# control characters a line must not carry.
_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")


def printable(text: object) -> str:
    """Text with terminal control sequences and other control characters removed (newlines and
    tabs kept), and the invisible format characters that reorder or hide text (bidi overrides,
    zero-width spaces): safe to print, whoever wrote it."""
    return _CONTROL_RE.sub("", _ANSI_RE.sub("", str(text)))


def one_line(text: object, fallback: str = "") -> str:
    """The first non-blank line of `text`, printable and at most MAX_LINE characters."""
    for line in printable(text).splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."
    return fallback


def explain(exc: BaseException, retry_seconds: float | None = None) -> Failure:
    """The one line (and exit status) for any exception: the user's mistakes, BigQuery's and the
    network's answers, Pulumi's failures and the operating system's; anything else is an internal
    error. `retry_seconds` is the bounded retry a RetryError gave up after."""
    if isinstance(exc, UserError):
        return Failure(one_line(exc, "error"), exc.exit_code)
    if isinstance(exc, BadInput | InvalidValue | SchemaError):
        return Failure(one_line(exc, type(exc).__name__))
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", EXIT_INTERRUPTED)
    for translate in (_google_api, _http, _google_auth, _pulumi, _operating_system):
        message = translate(exc, retry_seconds)
        if message is not None:
            return Failure(message)
    return Failure(f"{type(exc).__name__}: {one_line(exc, 'no message')}", internal=True)


# Each translator below answers for the exceptions of one library, or None. A library's
# exception can only exist once that library is imported, so none of them imports one.


def _module(name: str):
    return sys.modules.get(name)


def _google_api(exc: BaseException, retry_seconds: float | None) -> str | None:
    api = _module("google.api_core.exceptions")
    if api is None or not isinstance(exc, api.GoogleAPIError):
        return None
    if isinstance(exc, api.RetryError):
        cause = exc.cause
        reason = explain(cause).message if cause is not None else "no answer"
        after = f" for {retry_seconds:g}s" if retry_seconds else ""
        return f"gave up after retrying{after}: {reason}"
    if isinstance(exc, api.Unauthorized | api.Forbidden):
        return (
            f"access refused: BigQuery answered {exc.code} {_api_reason(exc)} "
            "(check the credentials and their roles on the dataset)"
        )
    if isinstance(exc, api.GoogleAPICallError):
        return f"BigQuery answered {exc.code} {_api_reason(exc)}"
    return one_line(exc, type(exc).__name__)


def _api_reason(exc) -> str:
    message = one_line(exc.message) if exc.message else ""
    # The client prefixes the method and URL; the server's own words are enough.
    if ": " in message and message.split(" ", 1)[0] in ("GET", "POST", "PATCH", "PUT", "DELETE"):
        message = message.split(": ", 1)[1]
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _http(exc: BaseException, _retry: float | None) -> str | None:
    requests = _module("requests.exceptions")
    if requests is None or not isinstance(exc, requests.RequestException):
        return None
    where = _where(exc)
    if isinstance(exc, requests.Timeout):
        seconds = _TIMEOUT_RE.search(str(exc))
        within = f"within the {seconds[1]}s deadline" if seconds else "in time"
        return f"no complete answer{where} {within}"
    if isinstance(exc, requests.InvalidJSONError):
        return f"the answer{where} is not JSON, so not BigQuery's ({one_line(exc)})"
    if isinstance(exc, requests.ConnectionError | requests.ChunkedEncodingError):
        return f"cannot reach BigQuery{where}: {connection_reason(exc)}"
    return f"the request{where} failed: {one_line(exc, type(exc).__name__)}"


def _where(exc) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None) if request is not None else None
    if not url:
        return ""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f" at {parts.scheme}://{parts.netloc}"


def connection_reason(exc: BaseException) -> str:
    """The operating system's reason (connection refused, name not known), not urllib3's story."""
    match = _ERRNO_RE.search(str(exc))
    return match[1].strip() if match else one_line(exc, type(exc).__name__)


def _google_auth(exc: BaseException, _retry: float | None) -> str | None:
    auth = _module("google.auth.exceptions")
    if auth is None or not isinstance(exc, auth.GoogleAuthError):
        return None
    if isinstance(exc, auth.TransportError):
        return f"cannot get an access token: {connection_reason(exc)}"
    # The token endpoint refused the key (RefreshError), or the credentials cannot be used.
    first = exc.args[0] if exc.args and isinstance(exc.args[0], str) else exc
    return f"credentials refused: {one_line(first, type(exc).__name__)}"


def _pulumi(exc: BaseException, _retry: float | None) -> str | None:
    auto = _module("pulumi.automation.errors")
    if auto is None:
        return None
    if isinstance(exc, auto.ConcurrentUpdateError):
        return "the stack is locked by another update; retry later"
    if isinstance(exc, auto.CommandError):
        return pulumi_command_line(str(exc))
    if isinstance(exc, auto.InvalidVersionError):
        return f"the Pulumi CLI cannot be used: {one_line(exc, 'unsupported version')}"
    return None


def pulumi_command_line(text: str) -> str:
    """The line of a failed Pulumi command worth showing: its first `error:` line, with its
    exit code. The Automation API keeps only "\\n code: N\\n stdout: ...\\n stderr: ..."."""
    code = re.search(r"^ code: (-?[0-9]+)$", text, re.MULTILINE)
    stdout, _, stderr = text.partition("\n stderr: ")
    lines = [line.strip() for line in printable(stderr).splitlines() if line.strip()]
    out_lines = [line.strip() for line in printable(stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    errors += [line for line in out_lines if line.startswith("error:")]
    shown = one_line((errors or lines or ["(no message)"])[0])
    return f"{shown} (pulumi exit {code[1] if code else '?'})"


def _operating_system(exc: BaseException, _retry: float | None) -> str | None:
    if not isinstance(exc, OSError):
        return None
    reason = exc.strerror or one_line(exc, type(exc).__name__)
    if exc.filename is not None:
        return f"{exc.filename}: {reason}"
    return reason
