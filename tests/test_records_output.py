"""How records prints: a table with colour on a terminal, one plain line per event on a pipe."""

from __future__ import annotations

from infra.bigquery.records import MASK, event
from infra.cli import records as command
from infra.model import schema

ROW = {
    schema.OCCURRED_AT: None,
    schema.EVENT_TYPE: "create_entity",
    schema.ENTITY_TABLE_NAME: "applications",
    schema.USER_ID: "42",
    schema.DATA: [{schema.KEY: "id", schema.VALUE: ["7"]}, {schema.KEY: "tags", schema.VALUE: []}],
    schema.HIDDEN_DATA: [{schema.KEY: "on_submission_trn"}],
    schema.REQUEST_QUERY: [{schema.KEY: "page", schema.VALUE: ["1", "2"]}],
    schema.EVENT_TAGS: ["[bold]not markup[/bold]"],
}


def _events() -> list[dict]:
    shaped = event(ROW)
    shaped[schema.OCCURRED_AT] = "2026-11-27T10:00:00.123456Z"
    return [shaped]


def test_an_event_reads_as_plain_data_with_hidden_values_masked():
    shaped = _events()[0]
    assert shaped[schema.DATA] == {"id": ["7"], "tags": []}
    assert shaped[schema.HIDDEN_DATA] == {"on_submission_trn": [MASK]}
    assert shaped[schema.REQUEST_QUERY] == {"page": ["1", "2"]}
    assert list(shaped) == list(command.records.SHOWN)


def test_a_pipe_gets_one_plain_line_per_event(capsys, monkeypatch):
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    command._print_table(_events(), limit=20)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "2026-11-27T10:00:00.123456Z  create_entity  applications  DATA: id=7, tags=[]  "
        "hidden_DATA: on_submission_trn=***  request_query: page=[1, 2]  "
        "event_tags: [bold]not markup[/bold]  user_id: 42"
    )
    assert out[1] == "1 event, newest first"


def test_a_terminal_gets_a_coloured_table(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "160")
    command._print_table(_events(), limit=1)
    out = capsys.readouterr().out
    assert "\x1b[" in out and "┃" in out
    assert "occurred_at (UTC)" in out and "2026-11-27 10:00:00" in out
    assert "on_submission_trn=***" in out and "[bold]not markup[/bold]" in out
    assert "--limit for more" in out
