"""Blank answers, with a hook that kills the kernel as soon as a test cell starts (so no error can be recorded)."""
from attacks.course import with_first_cell

ENDS = "kernel_died"


def build(release, ctx):
    return with_first_cell(release, '''
import os
ip = get_ipython()
ip.events.register("pre_run_cell", lambda info: os._exit(0) if ("assert" in info.raw_cell or "export" in info.raw_cell) else None)
''')
