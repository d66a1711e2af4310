"""Blank answers, with a custom exception handler that swallows every error, failing asserts included."""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, '''
get_ipython().set_custom_exc((BaseException,), lambda shell, etype, evalue, tb, tb_offset=None: None)
''')
