"""policylab collect: folders and zips in, nothing guessed, nothing overwritten silently."""
from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures.tiny_course import make_course

from policylab.cli import main
from policylab.grading import collect as c
from policylab.grading.collect import CollectError, collect_submissions
from policylab.grading.roster import Learner, write_roster
from policylab.grading.submissions import TIMESTAMP_FILE, checksums

NB = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'


@pytest.fixture
def course(tmp_path) -> Path:
    root = make_course(tmp_path / "course", build=False)
    write_roster(root, [Learner("kim01", "주차사업처", "2025-1기", "2025-03-03"),
                        Learner("lee02", "체육사업처", "2025-1기", "2025-03-03"),
                        Learner("park03", "기획조정실", "2025-1기", "2025-03-03")])
    return root


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2025, 3, 7, 14, 30, 0)), text)
    return path


def _status(report) -> dict[str, str]:
    return {item.source: item.status for item in report.items}


def test_a_zip_of_flat_files_is_collected_and_problems_are_reported(course, tmp_path):
    batch = _zip(tmp_path / "batch.zip", {
        "kim01_m01.ipynb": NB,                       # good
        "lee02_m01_final.ipynb": NB,                 # good, suffix allowed
        "ghost99_m01.ipynb": NB,                     # not on the roster
        "park03_m02.ipynb": NB,                      # another module
        "homework.ipynb": NB,                        # no learner in the name
        "__MACOSX/._kim01_m01.ipynb": "junk",        # archive litter: ignored
    })
    report = collect_submissions(batch, module_id="m01", root=course)
    assert _status(report) == {
        "kim01_m01.ipynb": c.COLLECTED, "lee02_m01_final.ipynb": c.COLLECTED,
        "ghost99_m01.ipynb": c.UNKNOWN_LEARNER, "park03_m02.ipynb": c.WRONG_MODULE,
        "homework.ipynb": c.UNRECOGNIZED}
    folder = course / "grading" / "submitted" / "kim01" / "m01"
    assert (folder / "m01.ipynb").read_text() == NB
    assert (folder / TIMESTAMP_FILE).read_text().strip() == "2025-03-07T14:30:00+09:00"
    assert not (course / "grading" / "submitted" / "ghost99").exists()
    assert all(item.message for item in report.problems)


def test_two_submissions_from_one_learner_are_both_refused(course, tmp_path):
    batch = _zip(tmp_path / "batch.zip", {"kim01_m01.ipynb": NB, "kim01_m01_v2.ipynb": NB.replace("5", "4")})
    report = collect_submissions(batch, module_id="m01", root=course)
    assert set(_status(report).values()) == {c.DUPLICATE}
    assert not (course / "grading" / "submitted" / "kim01").exists()


def test_a_folder_in_nbgraders_layout_keeps_its_files_and_timestamp(course, tmp_path):
    tree = tmp_path / "export" / "kim01" / "m01"
    tree.mkdir(parents=True)
    (tree / "m01.ipynb").write_text(NB)
    (tree / "notes.csv").write_text("a,b\n1,2\n")
    (tree / TIMESTAMP_FILE).write_text("2025-03-05 09:15:00.000000 UTC")
    (tmp_path / "export" / "kim01" / "m01" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "export" / "kim01" / "m01" / ".ipynb_checkpoints" / "m01-checkpoint.ipynb").write_text(NB)
    report = collect_submissions(tmp_path / "export", module_id="m01", root=course)
    assert _status(report) == {"kim01/m01": c.COLLECTED}
    folder = course / "grading" / "submitted" / "kim01" / "m01"
    assert sorted(p.name for p in folder.iterdir()) == ["m01.ipynb", "notes.csv", TIMESTAMP_FILE]
    assert (folder / TIMESTAMP_FILE).read_text().strip() == "2025-03-05T18:15:00+09:00"


def test_an_earlier_submission_is_never_overwritten_silently(course, tmp_path):
    first = _zip(tmp_path / "first.zip", {"kim01_m01.ipynb": NB})
    collect_submissions(first, module_id="m01", root=course)
    folder = course / "grading" / "submitted" / "kim01" / "m01"
    before = checksums(folder)

    same = collect_submissions(first, module_id="m01", root=course)
    assert _status(same) == {"kim01_m01.ipynb": c.UNCHANGED}

    changed = _zip(tmp_path / "second.zip", {"kim01_m01.ipynb": NB.replace("5", "4")})
    refused = collect_submissions(changed, module_id="m01", root=course)
    assert _status(refused) == {"kim01_m01.ipynb": c.EXISTS} and "--replace" in refused.items[0].message
    assert checksums(folder) == before

    replaced = collect_submissions(changed, module_id="m01", root=course, replace=True)
    assert _status(replaced) == {"kim01_m01.ipynb": c.REPLACED}
    assert (folder / "m01.ipynb").read_text() == NB.replace("5", "4")
    history = list((course / "grading" / "submitted" / ".history" / "kim01" / "m01").iterdir())
    assert len(history) == 1 and checksums(history[0]) == before


def test_a_custom_pattern_reads_lms_file_names(course, tmp_path):
    batch = _zip(tmp_path / "lms.zip", {"과제1_lee02_attempt_2025-03-06-08-05-00_m01.ipynb": NB})
    pattern = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<module>m\d\d)\.ipynb"
    report = collect_submissions(batch, module_id="m01", root=course, pattern=pattern)
    assert [i.status for i in report.items] == [c.COLLECTED]
    stamp = course / "grading" / "submitted" / "lee02" / "m01" / TIMESTAMP_FILE
    assert stamp.read_text().strip() == "2025-03-06T08:05:00+09:00"


def test_missing_rosters_are_refused(course, tmp_path):
    (course / "grading" / "roster.csv").unlink()
    with pytest.raises(CollectError, match="roster"):
        collect_submissions(_zip(tmp_path / "ok.zip", {"kim01_m01.ipynb": NB}), module_id="m01", root=course)


def test_the_command_prints_a_summary_and_fails_on_problems(course, tmp_path):
    batch = _zip(tmp_path / "batch.zip", {"kim01_m01.ipynb": NB, "ghost99_m01.ipynb": NB})
    result = CliRunner().invoke(main, ["--root", str(course), "collect", str(batch), "--module", "m01"])
    assert result.exit_code == 1
    assert "collected" in result.output and "unknown-learner" in result.output
    ok = _zip(tmp_path / "ok.zip", {"lee02_m01.ipynb": NB})
    result = CliRunner().invoke(main, ["--root", str(course), "collect", str(ok), "--module", "m01"])
    assert result.exit_code == 0, result.output


def test_the_roster_example_loads_and_bad_rosters_name_the_row(tmp_path):
    from conftest import REPO

    from policylab.grading.roster import RosterError, load_roster

    example = load_roster(tmp_path, path=REPO / "grading" / "roster.example.csv")
    assert example and all(l.learner_id and l.department and l.start_date for l in example)
    bad = tmp_path / "roster.csv"
    bad.write_text("learner_id,department,cohort,start_date,name\nkim01,a,b,2025-03-03,\nkim01,a,b,2025-03-03,\n",
                   encoding="utf-8")
    with pytest.raises(RosterError, match=r"roster.csv:3: .*appears twice"):
        load_roster(tmp_path, path=bad)
    bad.write_text("learner_id,department,cohort,start_date\n../x,a,b,2025-03-03\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"roster.csv:2: learner_id"):
        load_roster(tmp_path, path=bad)


# Attacks on collect (issue 16): a submission is untrusted data. Each unsafe entry is refused and named,
# nothing is written outside grading/submitted/, that learner's submission is refused as a whole,
# and the rest of the batch is collected.

def _zip_with(path: Path, files: dict[str, str], links: dict[str, str] = {}) -> Path:
    """``files`` as regular entries, ``links`` as entries whose Unix mode (external_attr) is a symlink."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2025, 3, 7, 14, 30, 0)), text)
        for name, target in links.items():
            info = zipfile.ZipInfo(name, date_time=(2025, 3, 7, 14, 30, 0))
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def _submitted(course: Path) -> Path:
    return course / "grading" / "submitted"


def _links_or_specials(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_symlink() or not (p.is_dir() or p.is_file())]


def _refused_learner(report, learner: str, reason: str) -> None:
    item = next(i for i in report.items if i.learner == learner or i.source.startswith(learner))
    assert item.status == c.UNSAFE and reason in item.message, (item.status, item.message)
    assert not (item.dest and Path(item.dest).exists())


def test_zip_with_link_entry(course, tmp_path):
    source = course / "solutions" / "m01" / "m01.ipynb"
    batch = _zip_with(tmp_path / "batch.zip",
                      {"kim01/m01/m01.ipynb": NB, "lee02/m01/m01.ipynb": NB},
                      links={"kim01/m01/notes.txt": str(source), "park03_m01.ipynb": "../../solutions/m01/m01.ipynb"})
    before = checksums(course / "solutions"), batch.read_bytes()
    report = collect_submissions(batch, module_id="m01", root=course)
    assert _status(report) == {"kim01/m01": c.UNSAFE, "lee02/m01": c.COLLECTED, "park03_m01.ipynb": c.UNSAFE}
    _refused_learner(report, "kim01", "링크 파일은 제출할 수 없습니다: kim01/m01/notes.txt")
    _refused_learner(report, "park03", "링크 파일은 제출할 수 없습니다: park03_m01.ipynb")
    assert sorted(p.name for p in _submitted(course).iterdir()) == ["lee02"]
    assert _links_or_specials(course) == [] and (checksums(course / "solutions"), batch.read_bytes()) == before


def test_zip_with_dotdot_paths(course, tmp_path):
    batch = _zip(tmp_path / "batch.zip", {
        "kim01/m01/m01.ipynb": NB, "kim01/m01/../../../../escaped.txt": "x",   # climbs out of the learner's folder
        "../park03_m01.ipynb": NB,                                           # climbs out of the batch
        "lee02_m01.ipynb": NB})
    report = collect_submissions(batch, module_id="m01", root=course)
    assert _status(report) == {"kim01/m01": c.UNSAFE, "../park03_m01.ipynb": c.UNSAFE, "lee02_m01.ipynb": c.COLLECTED}
    _refused_learner(report, "kim01", "상위 폴더(..)를 가리키는 경로는 제출할 수 없습니다: kim01/m01/../../../../escaped.txt")
    _refused_learner(report, "park03", "상위 폴더(..)를 가리키는 경로는 제출할 수 없습니다: ../park03_m01.ipynb")
    assert not list(tmp_path.rglob("escaped.txt")) and not (tmp_path / "park03_m01.ipynb").exists()
    assert sorted(p.name for p in _submitted(course).iterdir()) == ["lee02"]


def test_zip_with_absolute_path(course, tmp_path):
    outside = tmp_path / "outside"
    batch = _zip(tmp_path / "batch.zip", {f"{outside}/kim01_m01.ipynb": NB, "/etc/cron.d/park03_m01.ipynb": NB,
                                          "lee02_m01.ipynb": NB})
    report = collect_submissions(batch, module_id="m01", root=course)
    assert _status(report)["lee02_m01.ipynb"] == c.COLLECTED
    _refused_learner(report, "kim01", f"절대 경로인 항목은 제출할 수 없습니다: {outside}/kim01_m01.ipynb")
    _refused_learner(report, "park03", "절대 경로인 항목은 제출할 수 없습니다: /etc/cron.d/park03_m01.ipynb")
    assert not outside.exists() and not Path("/etc/cron.d/park03_m01.ipynb").exists()
    assert sorted(p.name for p in _submitted(course).iterdir()) == ["lee02"]


def test_folder_with_links_and_a_fifo(course, tmp_path):
    export = tmp_path / "export"
    for learner in ("kim01", "lee02", "park03"):
        (export / learner / "m01").mkdir(parents=True)
        (export / learner / "m01" / "m01.ipynb").write_text(NB)
    os.symlink(course / "solutions" / "m01" / "m01.ipynb", export / "kim01" / "m01" / "notes.txt")
    os.symlink("../../../../course/solutions", export / "kim01" / "m01" / "data")   # relative, to a folder
    os.mkfifo(export / "park03" / "m01" / "pipe")
    before = checksums(export)
    report = collect_submissions(export, module_id="m01", root=course)
    assert _status(report) == {"kim01/m01": c.UNSAFE, "lee02/m01": c.COLLECTED, "park03/m01": c.UNSAFE}
    _refused_learner(report, "kim01", "링크 파일은 제출할 수 없습니다: kim01/m01/data")
    assert "kim01/m01/notes.txt" in next(i.message for i in report.items if i.learner == "kim01")
    _refused_learner(report, "park03", "일반 파일이 아닌 항목은 제출할 수 없습니다: park03/m01/pipe (FIFO)")
    assert sorted(p.name for p in _submitted(course).iterdir()) == ["lee02"]
    assert _links_or_specials(course) == [] and checksums(export) == before
    assert checksums(export)["kim01/m01/notes.txt"].startswith("link:") and checksums(export)["park03/m01/pipe"] == "kind:p"
