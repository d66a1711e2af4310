"""The same grading pipeline on a PostgreSQL gradebook gives the SQLite run's states and scores.

The server is a real PostgreSQL on 127.0.0.1 that the ``pg_url`` fixture (tests/pg_server.py)
installs if needed, starts and removes; ``POLICYLAB_TEST_PG_URL`` points it at an existing
server instead. The point: nothing in grading, feedback, export or the reports' snapshot
assumes SQLite (the driver is psycopg 3, SQLAlchemy's default for ``postgresql://``).
"""
from __future__ import annotations

import pytest
from fixtures.tiny_course import make_course

from policylab.demo.cohort import FAST_BROKEN_KINDS, simulate_cohort
from policylab.grading.batch import grade_module, read_scores
from policylab.grading.export import build_snapshot
from policylab.grading.feedback import write_feedback

# One PostgreSQL server per xdist worker: the hub's end-to-end test shares this group and server.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hub")]


def _run(root, monkeypatch, db_url: str | None):
    from policylab.course.build import build_exercises

    if db_url:
        monkeypatch.setenv("POLICYLAB_DB_URL", db_url)
    else:
        monkeypatch.delenv("POLICYLAB_DB_URL", raising=False)
    build_exercises(root=root)
    simulate_cohort(root=root, learners=8, seed=3, broken=FAST_BROKEN_KINDS)
    report = grade_module("m01", root=root, workers=2)
    write_feedback("m01", root=root)
    return ({l: r.state for l, r in report.records.items()}, read_scores("m01", root=root),
            build_snapshot(root=root))


def _tables(db_url: str) -> set[str]:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(db_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_postgresql_gradebook_grades_like_sqlite(tmp_path, monkeypatch, pg_url):
    assert pg_url.startswith("postgresql")
    assert not _tables(pg_url)  # a fresh database: whatever is in it after the run, grading put there
    pg = _run(make_course(tmp_path / "pg", build=False), monkeypatch, pg_url)
    lite = _run(make_course(tmp_path / "lite", build=False), monkeypatch, None)
    # the PostgreSQL run really wrote to PostgreSQL, not to a SQLite file beside the course
    assert {"submitted_assignment", "grade", "student"} <= _tables(pg_url)
    assert not (tmp_path / "pg" / "grading" / "gradebook.db").exists()
    assert (tmp_path / "lite" / "grading" / "gradebook.db").is_file()
    assert len(pg[0]) >= 5 and len(set(pg[0].values())) > 1, pg[0]  # several states, not all alike
    assert pg[0] == lite[0]
    assert pg[1] == lite[1] and any(score > 0 for cells in pg[1].values() for score, _ in cells.values())
    # every table the reports and the HR export read: results, questions, comments, roster
    strip = lambda rows: [{k: v for k, v in r.items() if k != "graded_at"} for r in rows]  # noqa: E731
    assert set(pg[2]) == set(lite[2]) and "results" in pg[2]
    for table in pg[2]:
        assert strip(pg[2][table]) == strip(lite[2][table]), table
    assert any(row["score"] not in ("", None) for row in pg[2]["results"])


def test_grading_registers_the_module_in_an_empty_postgresql_gradebook(tmp_path, monkeypatch, pg_url):
    """A new shared gradebook: the exercises were built elsewhere, so `policylab grade` registers the
    module itself (the retry after "not in the gradebook" once failed on a half-written template)."""
    from policylab.course.build import build_exercises

    root = make_course(tmp_path / "course", build=False)
    monkeypatch.delenv("POLICYLAB_DB_URL", raising=False)
    build_exercises(root=root)  # registers m01 in the course's SQLite file, not in PostgreSQL
    simulate_cohort(root=root, learners=3, seed=5, broken=())
    monkeypatch.setenv("POLICYLAB_DB_URL", pg_url)
    assert "assignment" not in _tables(pg_url)
    report = grade_module("m01", root=root, workers=1)
    assert report.records and not report.problems, {k: r.reason for k, r in report.problems.items()}
    assert set(read_scores("m01", root=root)) == set(report.records)
