"""Writes one file larger than the file-size limit."""
from attacks.course import with_first_cell

ENDS = "file_size_limit"


def build(release, ctx):
    return with_first_cell(release, '''
with open("/tmp/huge.bin", "wb") as f:
    for _ in range(10**6):
        f.write(b"x" * 2**20)
''')
