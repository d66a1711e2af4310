"""Spins on the CPU in a loop that swallows KeyboardInterrupt."""
from attacks.course import with_first_cell

ENDS = "cpu_limit"


def build(release, ctx):
    return with_first_cell(release, '''
while True:
    try:
        while True:
            pass
    except KeyboardInterrupt:
        pass
''')
