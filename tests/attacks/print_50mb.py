"""Prints 50 MB, in one call and then line by line.

The attack is bounded (it stops after another 50 MB) so that only the output budget can end it:
an endless print loop also spends CPU while the grader reads the first 50 MB, and on a loaded
machine the CPU limit could then win the race and record ``cpu_limit`` instead.
"""
from attacks.course import with_first_cell

ENDS = "output_limit"


def build(release, ctx):
    return with_first_cell(release, '''
print("x" * 50_000_000)
for i in range(50_000):
    print("y" * 1000)
''')
