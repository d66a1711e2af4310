"""Answers of the wrong type, with isinstance/type/len/abs shadowed in the learner's namespace and abs/all patched in builtins."""
from attacks.course import with_answers, with_first_cell

ENDS = "completed"


def build(release, ctx):
    nb = with_first_cell(release, '''
import builtins
builtins.abs = lambda *a, **k: 0
builtins.all = lambda *a, **k: True
isinstance = lambda *a, **k: True
type = lambda *a, **k: list
len = lambda *a, **k: 5
abs = lambda *a, **k: 0
''')
    return with_answers(nb, {"q1_answer": 'total = "많이"\n', "q2_answer": "def fee(m):\n    return '0'\n",
                             "q3_answer": 'avg_fee = "0.0"\n'})
