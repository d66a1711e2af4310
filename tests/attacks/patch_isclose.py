"""Wrong answers, plus math.isclose, numpy's and pandas' comparison helpers patched to always agree."""
from attacks.course import with_answers, with_first_cell

ENDS = "completed"


def build(release, ctx):
    nb = with_first_cell(release, '''
import math, numpy, numpy.testing, pandas, pandas.testing
math.isclose = lambda *a, **k: True
numpy.isclose = lambda *a, **k: True
numpy.allclose = lambda *a, **k: True
for name in dir(numpy.testing):
    if name.startswith("assert_"):
        setattr(numpy.testing, name, lambda *a, **k: None)
for name in dir(pandas.testing):
    if name.startswith("assert_"):
        setattr(pandas.testing, name, lambda *a, **k: None)
''')
    return with_answers(nb, {"q1_answer": "total = 0\n", "q2_answer": "def fee(m):\n    return 0\n",
                             "q3_answer": "avg_fee = 0.0\n"})
