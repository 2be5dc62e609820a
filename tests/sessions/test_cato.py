"""CATO audit logs as CATO's own `AuditLog` writes them (SPEC §6.2).

`fixtures/traces/cato/audit.db` is a copy of `shared/compat/cato/audit.db`, written
by CATO's unmodified `cato/audit/audit_log.py` (commit 6e012a1). The ground truth
of "does this session verify" is CATO's own `verify_chain`, reproduced here from
the recipe in CATO's source (`cato_verify_chain`), never from the reader's code.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.engine.sessions import StepKind, page_steps, read_session, resolve
from tests.conftest import REPO, run_cli
from tests.sessions.conftest import CATO_DB

COMPAT_DB = REPO.parent / "shared" / "compat" / "cato" / "audit.db"
SESSIONS = ("sess-alpha", "sess-beta", "sess-gamma")


def cato_verify_chain(path: Path, session_id: str) -> bool:
    """CATO's `AuditLog.verify_chain`, as in its source: every row's hash recomputed, links not checked."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT id, session_id, action_type, tool_name, cost_cents, timestamp, prev_hash, row_hash "
            "FROM audit_log WHERE session_id = ? ORDER BY id",
            (session_id,),
        ).fetchall()
    connection.close()
    return all(
        hashlib.sha256(f"{i}:{s}:{a}:{t}:{c}:{ts}:{p}".encode()).hexdigest() == stored
        for i, s, a, t, c, ts, p, stored in rows
    )


def session_of(path: Path, session_id: str) -> Any:
    return read_session(resolve(path, session_id)[0])


def named_rows(path: Path) -> set[int]:
    """Every row a chain-broken finding names, over all the log's sessions."""
    listed = run_cli("sessions", path, "--format", "json").json()["sessions"]
    rows: set[int] = set()
    for entry in listed:
        for found in session_of(path, entry["id"]).findings:
            assert found.code.name in ("chain-broken",), found
            rows.add(found.data["row"])
    return rows


def edited_copy(tmp_path: Path, sql: str, *params: Any) -> Path:
    copy = tmp_path / "audit.db"
    copy.write_bytes(CATO_DB.read_bytes())
    with sqlite3.connect(copy) as connection:
        connection.execute(sql, params)
    connection.close()
    return copy


def test_the_sample_is_the_log_cato_wrote() -> None:
    if not COMPAT_DB.exists():
        pytest.skip("shared/compat/cato is not on this machine")
    assert CATO_DB.read_bytes() == COMPAT_DB.read_bytes()


def test_every_session_verifies_as_cato_says() -> None:
    for session_id in SESSIONS:
        assert cato_verify_chain(CATO_DB, session_id) is True
        session = session_of(CATO_DB, session_id)
        chain = session.facts["chain"]
        assert (chain["verified"], chain["cato_verify_chain"], chain["links_ok"]) == (True, True, True)
        assert chain["recipe"] and chain["not_covered"] == ["inputs_json", "outputs_json", "error"]
        assert session.findings == []
    text = run_cli("steps", CATO_DB, "--session-id", "sess-alpha")
    assert text.code == 0 and "Hash chain: verifies over 5 rows" in text.stdout
    assert "does not cover inputs_json, outputs_json, error (an edit there is undetectable)" in text.stdout


def test_every_row_is_a_tool_step_named_by_its_tool_name() -> None:
    with sqlite3.connect(f"file:{CATO_DB}?mode=ro", uri=True) as connection:
        truth = connection.execute("SELECT id, session_id, action_type, tool_name, error FROM audit_log").fetchall()
    connection.close()
    steps = {step.data["row"]: step for s in SESSIONS for step in session_of(CATO_DB, s).steps}
    assert sorted(steps) == [row[0] for row in truth]
    for row_id, _session, action, tool, error in truth:
        step = steps[row_id]
        assert (step.kind, step.name, step.data["action_type"]) == (StepKind.TOOL, tool, action)
        assert (step.status == "error") == (bool(error) or action == "error")
    assert steps[2].name == steps[9].name == "schedule.daily_digest"  # cron_fire
    assert (steps[7].name, steps[7].status) == ("send_email", "pending")  # approval_pending
    assert steps[10].name == "session_checkpoint"  # context_anchor
    assert steps[6].result == "[SAFETY] Action 'shell' denied by safety guard."
    assert steps[9].data["error"] == "boom: handler raised" and steps[9].result == {"status": "error"}
    assert steps[4].arguments["query"] == "Zürich café 東京 ☕" and steps[4].arguments["api_key"] == "[REDACTED]"


def test_outputs_are_cut_only_where_cato_cut_them() -> None:
    steps = {step.data["row"]: step for s in SESSIONS for step in session_of(CATO_DB, s).steps}
    cut = {row: step.problem for row, step in steps.items() if step.problem}
    assert cut == {
        3: "output cut by CATO at 2000 characters (2560 more)",
        5: "output cut by CATO at 2000 characters (2712 more)",
    }
    assert isinstance(steps[8].result, str) and len(steps[8].result) == 2000  # exactly 2000: not cut


# One chained field of one row changed: (field, new value as SQL). Rows: 1 first of alpha, 4 mid-alpha,
# 8 last of alpha, 10 first of gamma, 12 last of beta.
EDITS = {
    "session_id": (
        "session_id = CASE session_id WHEN 'sess-alpha' THEN 'sess-gamma' ELSE 'sess-alpha' END",  # into another
        "session_id = CASE session_id WHEN 'sess-beta' THEN 'sess-alpha' ELSE 'sess-beta' END",
        "session_id = 'sess-new'",
    ),
    "action_type": ("action_type = 'tool_call_x'",),
    "tool_name": ("tool_name = 'shell2'",),
    "cost_cents": ("cost_cents = cost_cents + 1",),
    "timestamp": ("timestamp = timestamp + 0.001",),
    "prev_hash": ("prev_hash = 'f' || substr(prev_hash, 2)", "prev_hash = '0'"),
    "row_hash": ("row_hash = '0' || substr(row_hash, 2)",),
}


@pytest.mark.parametrize("row", [1, 4, 8, 10, 12])
@pytest.mark.parametrize("edit", [(name, sql) for name, edits in EDITS.items() for sql in edits], ids=str)
def test_one_changed_chained_field_names_that_row(tmp_path: Path, row: int, edit: tuple[str, str]) -> None:
    name, assignment = edit
    copy = edited_copy(tmp_path, f"UPDATE audit_log SET {assignment} WHERE id = ?", row)
    with sqlite3.connect(f"file:{copy}?mode=ro", uri=True) as connection:
        sessions = [s for (s,) in connection.execute("SELECT DISTINCT session_id FROM audit_log")]
    connection.close()
    with sqlite3.connect(f"file:{CATO_DB}?mode=ro", uri=True) as connection:
        (original,) = connection.execute("SELECT session_id FROM audit_log WHERE id = ?", (row,)).fetchone()
        (later,) = connection.execute(
            "SELECT COUNT(*) FROM audit_log WHERE session_id = ? AND id > ?", (original, row)
        ).fetchone()
    connection.close()
    assert copy.read_bytes() != CATO_DB.read_bytes()
    assert named_rows(copy) == {row}
    for session_id in sessions:
        chain = session_of(copy, session_id).facts["chain"]
        assert chain["cato_verify_chain"] == cato_verify_chain(copy, session_id), session_id
        # CATO does not check links: a session that lost a row to another one still passes its verify_chain,
        # but the row after the moved one still names it.
        lost_a_row = name == "session_id" and session_id == original and later > 0
        assert chain["verified"] == (cato_verify_chain(copy, session_id) and not lost_a_row), session_id
    assert not all(session_of(copy, s).facts["chain"]["verified"] for s in sessions)


def test_a_changed_cost_is_detected(tmp_path: Path) -> None:
    copy = edited_copy(tmp_path, "UPDATE audit_log SET cost_cents = 0 WHERE id = 4")
    session = session_of(copy, "sess-alpha")
    assert session.facts["chain"]["verified"] is False and session.facts["chain"]["altered_rows"] == [4]
    assert [(f.code.name, f.data) for f in session.findings] == [("chain-broken", {"row": 4, "session": "sess-alpha"})]
    assert "row altered" in (session.steps[2].problem or "") and session.steps[3].problem is None
    page = run_cli("steps", copy, "--session-id", "sess-alpha", "--page-size", "2", "--page", "2", "--format", "json")
    assert page.code == 1 and page.json()["facts"]["chain"]["verified"] is False
    assert "row altered" in page.json()["steps"][0]["problem"]


@pytest.mark.parametrize("column", ["inputs_json", "outputs_json", "error"])
def test_an_edit_outside_the_chain_is_said_to_be_undetectable(tmp_path: Path, column: str) -> None:
    copy = edited_copy(tmp_path, f"UPDATE audit_log SET {column} = 'edited' WHERE id = 4")
    assert cato_verify_chain(copy, "sess-alpha") is True
    session = session_of(copy, "sess-alpha")
    assert session.facts["chain"]["verified"] is True and column in session.facts["chain"]["not_covered"]
    assert "undetectable" in session.facts["chain"]["statement"]


def test_a_removed_row_breaks_the_next_link(tmp_path: Path) -> None:
    copy = edited_copy(tmp_path, "DELETE FROM audit_log WHERE id = 4")
    assert cato_verify_chain(copy, "sess-alpha") is True  # CATO's verify_chain does not see it
    session = session_of(copy, "sess-alpha")
    chain = session.facts["chain"]
    assert (chain["verified"], chain["links_ok"], chain["broken_links"]) == (False, False, [6])
    assert "a row before it was removed" in session.findings[0].message


def test_a_log_whose_recipe_matches_nothing_still_gets_the_link_check(tmp_path: Path) -> None:
    copy = tmp_path / "audit.db"
    copy.write_bytes(CATO_DB.read_bytes())
    with sqlite3.connect(copy) as connection:
        previous: dict[str, str] = {}
        for row_id, session_id in connection.execute("SELECT id, session_id FROM audit_log ORDER BY id").fetchall():
            prev = previous.get(session_id, "0" * 64)  # another writer: a genesis hash and another recipe
            digest = hashlib.sha256(f"{row_id}|{session_id}|{prev}".encode()).hexdigest()
            connection.execute("UPDATE audit_log SET prev_hash = ?, row_hash = ? WHERE id = ?", (prev, digest, row_id))
            previous[session_id] = digest
    connection.close()
    session = session_of(copy, "sess-alpha")
    chain = session.facts["chain"]
    assert (chain["recipe"], chain["verified"], chain["links_ok"]) == (None, False, True)
    assert [f.code.name for f in session.findings] == ["chain-unverifiable"]
    assert "only the links between rows" in session.findings[0].message
    text = run_cli("steps", copy, "--session-id", "sess-alpha")
    assert "Hash chain: NOT verified: no row_hash is CATO's recipe, so only the links were checked" in text.stdout

    with sqlite3.connect(copy) as connection:
        connection.execute("DELETE FROM audit_log WHERE id = 4")
    connection.close()
    broken = session_of(copy, "sess-alpha")
    assert broken.facts["chain"]["broken_links"] == [6]
    assert [f.code.name for f in broken.findings] == ["chain-unverifiable", "chain-broken"]


def test_a_log_without_chain_columns_is_read_and_said_unverifiable(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, session_id TEXT, action_type TEXT)")
        connection.execute("INSERT INTO audit_log VALUES (1, 's', 'tool_call')")
    connection.close()
    session = session_of(path, "s")
    assert [step.name for step in session.steps] == ["tool_call"]
    assert [f.code.name for f in session.findings] == ["chain-unverifiable"]
    assert "no tool_name, cost_cents, timestamp, prev_hash, row_hash column" in session.findings[0].message


def test_reading_leaves_no_file_and_works_in_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    path = folder / "cato.db"
    path.write_bytes(CATO_DB.read_bytes())
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"  # as CATO's connect() sets it
    connection.close()
    assert sorted(p.name for p in folder.iterdir()) == ["cato.db"]
    for command in (["sessions", path], ["steps", path, "--session-id", "sess-beta"]):
        assert run_cli(*command).code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["cato.db"]
    folder.chmod(0o555)
    try:
        result = run_cli("steps", path, "--session-id", "sess-beta", "--format", "json")
    finally:
        folder.chmod(0o755)
    assert result.code == 0 and result.json()["total"] == 5
    assert sorted(p.name for p in folder.iterdir()) == ["cato.db"]


def _generate(path: Path, rows: int, sessions: int) -> None:
    """A CATO-layout log of `rows` chained rows over interleaved sessions (CATO's schema, copied from the sample)."""
    with sqlite3.connect(f"file:{CATO_DB}?mode=ro", uri=True) as sample:
        schema = [sql for (sql,) in sample.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")]
    sample.close()
    last: dict[str, str] = {}

    def values() -> Any:
        for row_id in range(1, rows + 1):
            session = f"s{row_id % sessions}"
            stamp = 1796524994.0 + row_id / 1000
            prev = last.get(session, "")
            digest = hashlib.sha256(f"{row_id}:{session}:tool_call:shell:1:{stamp}:{prev}".encode()).hexdigest()
            last[session] = digest
            yield row_id, session, "tool_call", "shell", '{"command": "echo hi"}', "hi", 1, "", stamp, prev, digest

    with sqlite3.connect(path) as connection:
        for sql in schema:
            if "sqlite_sequence" not in sql:
                connection.execute(sql)
        connection.executemany("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values())
    connection.close()


MEMORY_CAP = 256 * 1024 * 1024  # address space; holding the rows of one session took 2.9 GB (issue 18)


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_a_million_rows_page_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    _generate(path, 1_000_000, sessions=4)
    command = ["steps", path, "--session-id", "s1", "--page", "3", "--page-size", "10", "--format", "json"]
    completed = subprocess.run(
        [sys.executable, "-m", "server", *command],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        preexec_fn=_capped,  # only setrlimit, before exec
        check=False,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    page = json.loads(completed.stdout)
    assert (page["total"], [step["data"]["row"] for step in page["steps"]]) == (
        250_000,
        [1 + 4 * n for n in range(20, 30)],
    )
    assert page["facts"]["chain"]["verified"] is True and page["facts"]["chain"]["rows"] == 250_000


def test_page_steps_marks_an_altered_row_on_its_own_page(tmp_path: Path) -> None:
    copy = edited_copy(tmp_path, "UPDATE audit_log SET tool_name = 'x' WHERE id = 9")
    info, _ = resolve(copy, "sess-beta")
    pages = [page_steps(info, number, 2) for number in (1, 2, 3)]
    assert [[step.data["row"] for step in p.steps] for p in pages] == [[2, 5], [7, 9], [12]]
    assert ["row altered" in (step.problem or "") for p in pages for step in p.steps] == [False] * 3 + [True, False]
    assert all(p.facts["chain"]["altered_rows"] == [9] for p in pages)


def test_null_fields_are_hashed_as_cato_formats_them(tmp_path: Path) -> None:
    """CATO's f-string writes None as "None": a log whose tool_name or cost_cents is NULL still verifies."""
    path = tmp_path / "audit.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT, action_type TEXT, "
            "tool_name TEXT, inputs_json TEXT, outputs_json TEXT, cost_cents INTEGER, error TEXT, timestamp REAL, "
            "prev_hash TEXT, row_hash TEXT)"
        )
        digest = hashlib.sha256(b"1:s:llm_response:None:None:1796524994.25:").hexdigest()
        connection.execute(
            "INSERT INTO audit_log VALUES (1, 's', 'llm_response', NULL, '{}', 'ok', NULL, '', 1796524994.25, '', ?)",
            (digest,),
        )
    connection.close()
    assert cato_verify_chain(path, "s") is True
    session = session_of(path, "s")
    assert session.facts["chain"]["verified"] is True and session.findings == []
    assert (session.steps[0].kind, session.steps[0].name) == (StepKind.TOOL, "llm_response")


def test_a_too_deeply_nested_input_is_kept_as_text(tmp_path: Path) -> None:
    deep = "[" * 100_000
    copy = edited_copy(tmp_path, "UPDATE audit_log SET inputs_json = ?, outputs_json = ? WHERE id = 4", deep, deep)
    result = run_cli("steps", copy, "--session-id", "sess-alpha", "--format", "json")
    assert result.code == 0
    step = result.json()["steps"][2]
    assert step["arguments"] == deep and step["result"] == deep
