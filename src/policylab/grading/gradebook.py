"""Everything that touches nbgrader's gradebook, in one place.

The grading workers never open the course gradebook. Each autogrades into a private
SQLite copy that holds only the module's definition (:func:`write_template`); the one
parent process then writes each learner's result into the course gradebook in a single
transaction (:func:`merge_result`). One writer means SQLite never sees two writers and
a kill between learners loses nothing committed; the parent talks to the gradebook only
through nbgrader's ``Gradebook`` API (SQLAlchemy), so a PostgreSQL ``db_url`` works the
same way.
"""
from __future__ import annotations

import os
import sqlite3
import sys
import warnings
from datetime import datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    Interval,
    MetaData,
    String,
    Table,
    create_engine,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError


class GradebookError(RuntimeError):
    """The gradebook is missing, unreadable or lacks the module; the message says how to fix it."""


def ensure_tools_on_path() -> None:
    """nbgrader runs the ``alembic`` executable when it creates a gradebook: find ours.

    Without this, ``.venv/bin/python`` (not activated) fails to create a new gradebook
    with "No such file or directory: 'alembic'".
    """
    bindir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in parts:
        os.environ["PATH"] = os.pathsep.join([bindir, *parts])


def sqlite_path(db_url: str) -> Path | None:
    return Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite:///") else None


def open_gradebook(db_url: str, course_id: str, *, must_exist: bool = True):
    """nbgrader's Gradebook on ``db_url``; a missing SQLite file is an error, not a new empty gradebook."""
    from nbgrader.api import Gradebook

    path = sqlite_path(db_url)
    if path is not None:
        if must_exist and not path.is_file():
            raise GradebookError(f"{path}: gradebook not found. Run `policylab build` (it registers the "
                                 "modules in the gradebook) or check db_url / POLICYLAB_DB_URL.")
        path.parent.mkdir(parents=True, exist_ok=True)
    ensure_tools_on_path()
    return Gradebook(db_url, course_id)


def open_readonly(db_url: str):
    """A SQLAlchemy engine that cannot write (SQLite opened with mode=ro), for snapshots and exports."""
    path = sqlite_path(db_url)
    if path is None:
        return create_engine(db_url)
    if not path.is_file():
        raise GradebookError(f"{path}: gradebook not found (check db_url / POLICYLAB_DB_URL; "
                             "grade something first with `policylab grade`).")
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")


# The tables that define an assignment, parents first.
_DEFINITION = ("course", "assignment", "notebook", "base_cell", "grade_cells", "solution_cells",
               "task_cells", "source_cell")


def write_template(db_url: str, course_id: str, module_id: str, dest: Path) -> Path:
    """A fresh SQLite gradebook at ``dest`` holding only ``module_id``'s definition, copied row for row.

    The workers grade into copies of it, so they see exactly the cells, checksums and points
    that stock nbgrader would read from the course gradebook, and no learner's data.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # a failed first attempt (module not registered yet) leaves a half-made file: start afresh
    dest.unlink(missing_ok=True)
    path = sqlite_path(db_url)
    if path is not None:
        return _template_from_sqlite(path, module_id, dest)
    from nbgrader.api import Base

    tables = Base.metadata.tables
    source = open_readonly(db_url)
    target = create_engine(f"sqlite:///{dest}")
    try:
        # nbgrader's Gradebook() would stamp a new database by running the `alembic` command
        # (about 3 s); the schema and the stamp are copied from the course gradebook instead.
        Base.metadata.create_all(bind=target)
        with source.connect() as src, target.begin() as dst:
            try:
                version = src.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except DBAPIError:  # an empty database: nbgrader has not created its tables yet
                raise GradebookError(f"the gradebook ({source.url.render_as_string()}) has no nbgrader tables yet; "
                                     "run `policylab build` first.") from None
            dst.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            dst.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})
            assignment = src.execute(select(tables["assignment"]).where(
                tables["assignment"].c.name == module_id)).mappings().first()
            if assignment is None:
                raise GradebookError(f"module {module_id} is not in the gradebook ({db_url}); "
                                     "run `policylab build` first.")
            notebooks = src.execute(select(tables["notebook"]).where(
                tables["notebook"].c.assignment_id == assignment["id"])).mappings().all()
            nb_ids = [n["id"] for n in notebooks]
            cells = src.execute(select(tables["base_cell"]).where(
                tables["base_cell"].c.notebook_id.in_(nb_ids))).mappings().all()
            cell_ids = [c["id"] for c in cells]
            rows = {
                "course": src.execute(select(tables["course"])).mappings().all(),
                "assignment": [assignment],
                "notebook": notebooks,
                "base_cell": cells,
                "source_cell": src.execute(select(tables["source_cell"]).where(
                    tables["source_cell"].c.notebook_id.in_(nb_ids))).mappings().all(),
            }
            for name in ("grade_cells", "solution_cells", "task_cells"):
                rows[name] = src.execute(select(tables[name]).where(
                    tables[name].c.id.in_(cell_ids))).mappings().all()
            existing = {r[0] for r in dst.execute(select(tables["course"].c.id))}
            rows["course"] = [r for r in rows["course"] if r["id"] not in existing]
            for name in _DEFINITION:
                if rows[name]:
                    dst.execute(tables[name].insert(), [dict(r) for r in rows[name]])
    finally:
        source.dispose()
        target.dispose()
    return dest


def _template_from_sqlite(path: Path, module_id: str, dest: Path) -> Path:
    """The SQLite fast path: copy the file (sqlite3's online backup), then delete everything but the
    module's definition. No nbgrader import in the critical path of a batch."""
    if not path.is_file():
        raise GradebookError(f"{path}: gradebook not found; run `policylab build` first.")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
        row = target.execute("SELECT id FROM assignment WHERE name = ?", (module_id,)).fetchone()
        if row is None:
            raise GradebookError(f"module {module_id} is not in the gradebook ({path}); run `policylab build` first.")
        with target:
            for table in ("comment", "grade", "submitted_notebook", "submitted_assignment", "student"):
                target.execute(f"DELETE FROM {table}")
            others = "SELECT id FROM notebook WHERE assignment_id != ?"
            cells = f"SELECT id FROM base_cell WHERE notebook_id IN ({others})"
            for table in ("grade_cells", "solution_cells", "task_cells"):
                target.execute(f"DELETE FROM {table} WHERE id IN ({cells})", (row[0],))
            target.execute(f"DELETE FROM base_cell WHERE notebook_id IN ({others})", (row[0],))
            target.execute(f"DELETE FROM source_cell WHERE notebook_id IN ({others})", (row[0],))
            target.execute("DELETE FROM notebook WHERE assignment_id != ?", (row[0],))
            target.execute("DELETE FROM assignment WHERE id != ?", (row[0],))
    except BaseException:
        target.close()
        dest.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    target.close()
    return dest


def add_learners(db_url: str, course_id: str, learners: list) -> int:
    """Add or update every roster learner in one gradebook session; returns how many changed."""
    from nbgrader.api import Student

    changed = 0
    with open_gradebook(db_url, course_id) as gb:
        known = {s.id: s for s in gb.db.query(Student).all()}
        for learner in learners:
            last_name = learner.name or None
            student = known.get(learner.learner_id)
            if student is None:
                gb.db.add(Student(id=learner.learner_id, last_name=last_name))
                changed += 1
            elif last_name and student.last_name != last_name:
                student.last_name = last_name
                changed += 1
        gb.db.commit()
    return changed


_META = MetaData()
_ASSIGNMENT = Table("assignment", _META, Column("id", String(32)), Column("name", String(128)))
_SUBMISSION = Table("submitted_assignment", _META, Column("assignment_id", String(32)),
                    Column("student_id", String(128)), Column("extension", Interval()))


def read_extension(db_url: str, course_id: str, module_id: str, learners: list[str]) -> dict:
    """{learner: timedelta} for learners who were granted more time (nbgrader's extensions).

    Plain SQLAlchemy on nbgrader's tables, so the batch need not wait for nbgrader's import.
    """
    engine = open_readonly(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(_SUBMISSION.c.student_id, _SUBMISSION.c.extension)
                .join(_ASSIGNMENT, _ASSIGNMENT.c.id == _SUBMISSION.c.assignment_id)
                .where(_ASSIGNMENT.c.name == module_id, _SUBMISSION.c.extension.isnot(None))).all()
    finally:
        engine.dispose()
    wanted = set(learners)
    return {learner: ext for learner, ext in rows if learner in wanted and ext}


def extract_result(db: Path, module_id: str, learner: str) -> dict:
    """What nbgrader's autograde wrote for one submission into a worker's private SQLite gradebook,
    as plain data. Plain SQL: the ORM's lazy loading cost a tenth of a second per notebook."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        head = con.execute(
            "SELECT sa.id, sa.timestamp FROM submitted_assignment sa JOIN assignment a ON a.id = sa.assignment_id "
            "WHERE a.name = ? AND sa.student_id = ?", (module_id, learner)).fetchone()
        if head is None:
            return {"timestamp": None, "notebooks": {}}
        notebooks = {}
        for sn_id, name, penalty in con.execute(
                "SELECT sn.id, n.name, sn.late_submission_penalty FROM submitted_notebook sn "
                "JOIN notebook n ON n.id = sn.notebook_id WHERE sn.assignment_id = ?", (head[0],)):
            grades = {
                cell: {"auto_score": auto, "needs_manual_grade": bool(needs),
                       "max_score": gmax if gmax is not None else tmax,
                       "cell_type": gtype if gtype is not None else ttype}
                for cell, auto, needs, gmax, gtype, tmax, ttype in con.execute(
                    "SELECT bc.name, g.auto_score, g.needs_manual_grade, gc.max_score, gc.cell_type, "
                    "tc.max_score, tc.cell_type FROM grade g JOIN base_cell bc ON bc.id = g.cell_id "
                    "LEFT JOIN grade_cells gc ON gc.id = bc.id LEFT JOIN task_cells tc ON tc.id = bc.id "
                    "WHERE g.notebook_id = ?", (sn_id,))}
            comments = dict(con.execute(
                "SELECT bc.name, c.auto_comment FROM comment c JOIN base_cell bc ON bc.id = c.cell_id "
                "WHERE c.notebook_id = ?", (sn_id,)).fetchall())
            notebooks[name] = {"late_penalty": penalty, "grades": grades, "comments": comments}
    finally:
        con.close()
    timestamp = datetime.fromisoformat(head[1]) if head[1] else None
    return {"timestamp": timestamp, "notebooks": notebooks}


def merge_result(gb, module_id: str, learner: str, *, timestamp: datetime | None,
                 notebooks: dict | None) -> None:
    """Write one learner's autograde result into the course gradebook, in one transaction.

    Mirrors what nbgrader's SaveAutoGrades does against the course gradebook: the auto score
    is replaced, a trainer's manual score is kept and flags the cell for review. ``notebooks``
    None (nbgrader could not finish) clears the auto scores, so an earlier submission's points
    never survive a failed regrade.
    """
    from sqlalchemy.exc import SAWarning

    kwargs = {"timestamp": timestamp} if timestamp is not None else {}
    with warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy 2's autoflush warning; stock autograde does too
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_student(learner)
        submission = gb.update_or_create_submission(module_id, learner, **kwargs)
    try:
        for nb in submission.notebooks:
            result = (notebooks or {}).get(nb.name)
            if notebooks is not None and result is None:
                continue
            if result is not None:
                nb.late_submission_penalty = result["late_penalty"]
            for grade in nb.grades:
                got = result["grades"].get(grade.name) if result else None
                auto = got["auto_score"] if got else None
                grade.auto_score = auto
                grade.needs_manual_grade = bool(
                    (got["needs_manual_grade"] if got else True) or grade.manual_score is not None)
            if result is not None:
                for comment in nb.comments:
                    if comment.name in result["comments"]:
                        comment.auto_comment = result["comments"][comment.name]
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise


def remove_submission(db_url: str, course_id: str, module_id: str, learner: str) -> bool:
    """Delete one learner's submission of a module from the gradebook (if both exist)."""
    from nbgrader.api import MissingEntry

    path = sqlite_path(db_url)
    if path is not None and not path.is_file():
        return False
    with open_gradebook(db_url, course_id) as gb:
        try:
            gb.remove_submission(module_id, learner)
        except MissingEntry:
            return False
    return True
