"""Prints 100 MB in a single output message (bigger than the grader accepts from a kernel), then carries on."""
from attacks.course import with_first_cell

ENDS = "output_limit"


def build(release, ctx):
    return with_first_cell(release, "print('x' * 100_000_000)\nprint('after')\n")
