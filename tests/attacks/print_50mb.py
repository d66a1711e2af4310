"""Prints 50 MB, in one call and then line by line."""
from attacks.course import with_first_cell

ENDS = "output_limit"


def build(release, ctx):
    return with_first_cell(release, '''
print("x" * 50_000_000)
for i in range(10**9):
    print("y" * 1000)
''')
