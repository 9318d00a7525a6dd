"""Whatever it is given, the CLI ends: an exit status it documents, no traceback, in time.

Hypothesis drives the CLI's entry function, infra.cli.main.main(argv), in this process, with
generated stack files (through --project-dir), schema files, preview documents, local state
files and flag values, mixing well-formed values, the odd ones people and tools write, and
noise. Nothing here reaches the network: BigQuery is a loopback stub, and commands that would
call Pulumi or signal a process are given what stops them first. Each run has a generous
timeout that fails the test (a hang), not a timed assertion.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.cli.main import main
from infra.errors import EXIT_FINDINGS, EXIT_OK, EXIT_STALE, EXIT_USAGE
from infra.model.schema import API_TYPES, MODES
from infra.model.settings import KEYS
from tests.bq_stub import StubBigQuery
from tests.helpers import ROOT

DOCUMENTED = {EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_STALE}
HANG = 60.0  # seconds: far above any run here; only a hang reaches it


def examples(count: int) -> settings:
    """Bounded runs, to keep the suite fast; no per-example deadline (HANG bounds each run)."""
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# Pulumi.staging.yaml's config, written as one line per key.
BASE_CONFIG = {
    "gcp:project": "ecf-bq",
    "npq-analytics:environment": "staging",
    "npq-analytics:lifecycle": "long-lived",
    "npq-analytics:kmsKey": (
        "projects/ecf-bq/locations/europe-west2/keyRings/ecf-key-ring/cryptoKeys/ecf-key"
    ),
    "npq-analytics:timeTravelHours": "168",
    "npq-analytics:ownsKmsGrant": "false",
    "npq-analytics:labels": "{service: npq-registration}",
}
PREVIEWS = sorted((ROOT / "tests" / "data" / "previews").glob("*.json"))

# What people, tools and hostile users put where a value goes.
ODD = [
    "168", "144", "0x48", "072", "1_0", "+5", "-1", "1.0", ".5", "1e3", "99999999999999999999",
    "yes", "no", "on", "true", "True", "FALSE", "~", "null", "", " ", "2026-02-30", "2026-02-28",
    "2026-1-2", "2026-02-28T10:00:00Z", ".inf", ".nan", "'quoted'", '"a\\nb"', '"\\e[31m"',
    "!!binary aGk=", "!!str 5", "!!python/object:x", "!foo bar", "&a x", "*a", "*nothing",
    "[a, b]", "{a: 1}", "{secure: x}", "[", "{", "]", "- x", "|", ">", "'", '"', "#", "%",
    "[/x]", "[bold]", ":smile:", "\x1b[31m", "\t", "\u202e", "é", "²", "٣",
    "europe-west2", "EU", "us", "foo-bar9", "long-lived", "ephemeral", "staging", "review",
    "projects/ecf-bq/locations/europe-west2/keyRings/r/cryptoKeys/k",
    "projects/ecf-bq/locations/europe-west2/keyRings/../cryptoKeys/k",
    "projects/ecf-bq/locations/europe-west2/taxonomies/1/policyTags/2",
    "roles/bigquery.dataViewer", "['user:a@example.org']", "['iamMember:principal://iam.googleapis.com/[/x]']",
    "{service: npq, n: 5}", "{'UPPER': x}", "[1, 2]",
]  # fmt: skip
printable_text = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=24)
# Mostly the odd values above and printable text: a control character ends most YAML early.
odd_text = st.one_of(
    st.sampled_from(ODD), st.sampled_from(ODD), printable_text, st.text(max_size=8)
)
config_keys = st.one_of(
    st.sampled_from(sorted(key.full for key in KEYS.values())),
    st.sampled_from(["location", "environment", "npq-analytics:other", "gcp:region", "a:b:c"]),
    printable_text,
)


@st.composite
def stack_files(draw) -> bytes:
    """The committed staging file with a few config values set to anything (a key set twice
    now and then), or noise."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=200))
    config = dict(BASE_CONFIG)
    repeated = []
    for _ in range(draw(st.integers(1, 4))):
        key, value = draw(config_keys), draw(odd_text)
        if draw(st.integers(0, 9)) == 0:
            repeated.append(f"  {key}: {value}")
        else:
            config[key] = value
    lines = ["config:", *(f"  {key}: {value}" for key, value in config.items()), *repeated]
    return ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.one_of(
    st.sampled_from(["a", "A", "b", "DATA", "data", "key", "value"]), st.text(max_size=5)
)
field_types = st.one_of(
    st.sampled_from([*sorted(API_TYPES), "BANANA", "record", "int64", ""]),
    st.text(max_size=5),
    st.integers(),
)
fields = st.deferred(
    lambda: st.lists(
        st.fixed_dictionaries(
            {"name": field_names, "type": field_types},
            optional={
                "mode": st.one_of(st.sampled_from([*MODES, "nullable", "OPTIONAL"]), json_values),
                "description": st.one_of(st.text(max_size=8), json_values),
                "fields": fields,
                "policyTags": st.one_of(st.just({"names": ["projects/p/x"]}), json_values),
                "maxLength": st.one_of(st.just("10"), json_values),
            },
        ),
        max_size=5,
    )
)
schema_documents = st.one_of(
    fields,
    st.fixed_dictionaries({"fields": fields}),
    st.fixed_dictionaries(
        {"schema": st.fixed_dictionaries({"fields": fields})},
        optional={
            "timePartitioning": st.one_of(st.just({"type": "DAY", "field": "a"}), json_values),
            "clustering": st.one_of(st.just({"fields": ["a"]}), json_values),
            "encryptionConfiguration": json_values,
            "labels": json_values,
            "tableReference": json_values,
        },
    ),
    json_values,
)


@st.composite
def file_contents(draw, documents) -> bytes:
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.binary(max_size=100))
    if choice == 1:
        return draw(st.text(max_size=60)).encode("utf-8", errors="surrogatepass")
    return json.dumps(draw(documents)).encode()


@st.composite
def preview_documents(draw) -> bytes:
    """A recorded `pulumi preview --json` with one part replaced by anything, or noise."""
    if draw(st.integers(0, 5)) == 0:
        return draw(file_contents(json_values))
    document = json.loads(draw(st.sampled_from(PREVIEWS)).read_text())
    node = document
    for _ in range(draw(st.integers(0, 4))):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()) or not isinstance(node[key], dict | list):
            node[key] = draw(st.one_of(json_values, st.sampled_from(["[/x]", "\x1b[1m", "urn:"])))
            break
        node = node[key]
    prefix = draw(st.sampled_from(["", "Previewing update (staging):\n", "warning: x\n"]))
    return (prefix + json.dumps(document)).encode()


# -- the harness -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stub():
    """A BigQuery that holds nothing: every dataset is 404, at once."""
    with StubBigQuery() as server:
        yield server


@pytest.fixture
def environment(monkeypatch, tmp_path):
    for key in ("BIGQUERY_DFE_ANALYTICS_API_JSON_KEY", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.setenv(key, "")
    monkeypatch.setenv("NPQ_EVENTS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("NPQ_EVENTS_DEBUG", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no `pulumi` to run, whatever happens
    return tmp_path


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    """main(argv) in a thread: its status, stdout and stderr; fails the test on a hang."""
    out, err = io.StringIO(), io.StringIO()
    result: list[object] = []

    def target() -> None:
        try:
            result.append(main(list(argv)))
        except BaseException as exc:  # main must not raise; the assertion below says so
            result.append(exc)

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        saved_stdin = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            thread.join(HANG)
        finally:
            sys.stdin = saved_stdin
    if thread.is_alive():
        pytest.fail(f"npq-events {' '.join(argv)!r} still runs after {HANG:.0f}s")
    (code,) = result
    assert isinstance(code, int), f"main raised {code!r} for {argv!r}"
    return code, out.getvalue(), err.getvalue()


def check(code: int, err: str, argv: tuple[str, ...]) -> None:
    assert code in DOCUMENTED, (code, argv, err)
    assert "Traceback" not in err, (argv, err)
    assert not any(line.startswith("npq-events: internal error") for line in err.splitlines())
    for line in err.splitlines():
        assert line.startswith(("npq-events: error: ", "npq-events: warning: ")), (argv, err)


def _write(directory: Path, name: str, content: bytes) -> Path:
    path = directory / name
    path.write_bytes(content)
    return path


# -- the properties --------------------------------------------------------------------------


@examples(80)
@given(
    content=stack_files(),
    name=st.sampled_from(["gen", "review"]),
    fmt=st.sampled_from(["text", "json", "markdown"]),
)
def test_any_stack_file(environment, stub, content, name, fmt):
    with tempfile.TemporaryDirectory(dir=environment) as where:
        project = Path(where)
        _write(project, "Pulumi.yaml", (ROOT / "Pulumi.yaml").read_bytes())
        _write(project, f"Pulumi.{name}.yaml", content)
        stack = "review-pr-7" if name == "review" else name
        for argv in (
            (
                "--project-dir",
                where,
                "verify",
                "--all",
                "--format",
                fmt,
                "--api-endpoint",
                stub.endpoint,
            ),
            ("--project-dir", where, "verify", "--stack", stack, "--api-endpoint", stub.endpoint),
            ("--project-dir", where, "schema", "export", "--format", "ddl", "--stack", stack),
            ("--project-dir", where, "records", "--stack", stack, "--local"),
        ):
            code, _out, err = run(*argv)
            check(code, err, argv)


@examples(40)
@given(
    old=file_contents(schema_documents),
    new=file_contents(schema_documents),
    stdin_side=st.sampled_from([None, "old", "new"]),
    fmt=st.sampled_from(["text", "json"]),
)
def test_any_schema_files(environment, old, new, stdin_side, fmt):
    with tempfile.TemporaryDirectory(dir=environment) as where:
        paths = [
            str(_write(Path(where), "old.json", old)),
            str(_write(Path(where), "new.json", new)),
        ]
        stdin = ""
        if stdin_side is not None:
            index = 0 if stdin_side == "old" else 1
            stdin = (old, new)[index].decode("utf-8", errors="replace")
            paths[index] = "-"
        argv = ("schema", "diff", *paths, "--format", fmt)
        code, _out, err = run(*argv, stdin=stdin)
        check(code, err, argv)


@examples(60)
@given(document=preview_documents(), adoption=st.booleans(), fmt=st.sampled_from(["text", "json"]))
def test_any_preview(environment, document, adoption, fmt):
    with tempfile.TemporaryDirectory(dir=environment) as where:
        path = _write(Path(where), "preview.json", document)
        argv = ("preview-gate", str(path), "--format", fmt, *(["--adoption"] if adoption else []))
        code, _out, err = run(*argv)
        check(code, err, argv)


@examples(30)
@given(
    since=odd_text,
    until=odd_text,
    limit=odd_text,
    max_bytes=odd_text,
    endpoint=st.one_of(
        odd_text,
        st.sampled_from(
            ["http://127.0.0.1:9", "https://x", "ftp://x", "http://[::1", "http://example.org"]
        ),
    ),
    fmt=odd_text,
    stack=st.one_of(st.just("nostack"), odd_text),
    pr=odd_text,
    closed=odd_text,
    days=odd_text,
    state=st.one_of(
        st.binary(max_size=40),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "pid": st.integers(-5, 2**31),
                "port": st.integers(-1, 70000),
                "endpoint": st.text(max_size=10),
                "project": st.just("ecf-bq"),
                "stacks": st.lists(st.text(max_size=5)),
                "data_dir": st.text(max_size=5),
                "log": st.just("x"),
                "started_at": st.just("now"),
            }
        ).map(lambda v: json.dumps(v).encode()),
    ),
)
def test_any_flag_values(
    environment, since, until, limit, max_bytes, endpoint, fmt, stack, pr, closed, days, state
):
    # No stack file 'nostack', no Pulumi.yaml: every command stops before the network or Pulumi.
    state_file = environment / "state" / "local" / "state.json"
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_bytes(state)
    empty = str(environment / "empty")
    os.makedirs(empty, exist_ok=True)
    for argv in (
        (
            "records",
            "--stack",
            "nostack",
            f"--since={since}",
            f"--until={until}",
            f"--limit={limit}",
            f"--max-bytes={max_bytes}",
        ),
        ("records", "--stack", "nostack", f"--format={fmt}", f"--api-endpoint={endpoint}"),
        ("verify", f"--stack={stack}", f"--api-endpoint={endpoint}", "--strict"),
        ("verify", "--stack", "nostack", f"--format={fmt}", "--local"),
        ("--project-dir", empty, "review", "up", f"--pr={pr}"),
        (
            "--project-dir",
            empty,
            "review",
            "prune",
            f"--closed={closed}",
            f"--older-than={days}",
            "--dry-run",
        ),
        ("local", "status", f"--format={fmt}"),
        ("local", "status"),
    ):
        code, _out, err = run(*argv)
        check(code, err, argv)
