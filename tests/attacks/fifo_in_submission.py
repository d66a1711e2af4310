"""Puts a named pipe (FIFO) beside an otherwise correct notebook: a grader that opens it blocks for
ever, and one that copies it chokes. The submission must be refused with the pipe named, and
the batch go on."""
import os

from attacks.course import source_notebook

LINK = "pipe"
REFUSED = f"일반 파일이 아닌 항목은 제출할 수 없습니다: {LINK} (FIFO)"


def build(release, ctx):
    return source_notebook()  # full marks if it were graded: any point it gets is a leak


def plant(folder, ctx):
    os.mkfifo(folder / LINK)
