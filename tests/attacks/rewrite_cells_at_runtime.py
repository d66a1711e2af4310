"""Blank answers, with an input transformer that turns every later cell it does not like into `pass` before it runs."""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, '''
def _skip_checks(lines):
    text = "".join(lines)
    if "assert" in text or "export" in text or "policylab" in text or "NotImplementedError" in text:
        return ["pass\\n"]
    return lines
get_ipython().input_transformers_post.append(_skip_checks)
''')
