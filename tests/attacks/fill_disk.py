"""Writes 1 MB files into its working folder until the disk is full, ignoring the errors."""
from attacks.course import with_first_cell

ENDS = "disk_limit"


def build(release, ctx):
    return with_first_cell(release, '''
i = 0
while True:
    try:
        with open(f"fill_{i}.bin", "wb") as f:
            f.write(b"x" * 2**20)
    except OSError:
        pass
    i += 1
''')
