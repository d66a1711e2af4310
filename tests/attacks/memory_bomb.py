"""Allocates memory until something gives."""
from attacks.course import with_first_cell

ENDS = "memory_limit"


def build(release, ctx):
    return with_first_cell(release, '''
blocks = []
while True:
    blocks.append(bytearray(64 * 2**20))
''')
