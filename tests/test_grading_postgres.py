"""The same grading pipeline on a PostgreSQL gradebook gives the SQLite run's states and scores.

Runs only where a server is given: ``POLICYLAB_TEST_PG_URL=postgresql://user@host:port/db``
(an empty database the test may fill; ``postgresql+psycopg2://`` for psycopg2) and its driver importable. The multi-user
deployment's own tests start such a server; here the point is that nothing in grading,
feedback or export assumes SQLite.
"""
from __future__ import annotations

import os

import pytest

from fixtures.tiny_course import make_course
from policylab.cohort import FAST_BROKEN_KINDS, simulate_cohort
from policylab.export import build_snapshot
from policylab.feedback import write_feedback
from policylab.grading import grade_module, read_scores

PG_URL = os.environ.get("POLICYLAB_TEST_PG_URL")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not PG_URL, reason="set POLICYLAB_TEST_PG_URL to run against PostgreSQL")]


def _run(root, monkeypatch, db_url: str | None):
    from policylab.build import build_exercises

    if db_url:
        monkeypatch.setenv("POLICYLAB_DB_URL", db_url)
    else:
        monkeypatch.delenv("POLICYLAB_DB_URL", raising=False)
    build_exercises(root=root)
    simulate_cohort(root=root, learners=8, seed=3, broken=FAST_BROKEN_KINDS)
    report = grade_module("m01", root=root, workers=2)
    write_feedback("m01", root=root)
    return ({l: r.state for l, r in report.records.items()}, read_scores("m01", root=root),
            build_snapshot(root=root)["results"])


def test_postgresql_gradebook_grades_like_sqlite(tmp_path, monkeypatch):
    from sqlalchemy import create_engine

    try:
        create_engine(PG_URL).connect().close()
    except Exception as exc:  # no driver (psycopg / psycopg2) or no server
        pytest.skip(f"cannot connect to {PG_URL}: {exc}")
    pg = _run(make_course(tmp_path / "pg", build=False), monkeypatch, PG_URL)
    lite = _run(make_course(tmp_path / "lite", build=False), monkeypatch, None)
    assert pg[0] == lite[0]
    assert pg[1] == lite[1]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "graded_at"} for r in rows]  # noqa: E731
    assert strip(pg[2]) == strip(lite[2])
