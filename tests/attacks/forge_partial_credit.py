"""Blank answers, with a hook that emits an `execute_result` of 1 before every cell (nbgrader reads a number there as partial credit)."""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, '''
ip = get_ipython()
ip.events.register("pre_run_cell", lambda info: ip.displayhook(1))
''')
