"""Answers that are objects (int, float and plain subclasses) whose comparisons are always true."""
from attacks.course import with_answers

ENDS = "completed"

CLASSES = '''
class AlwaysEqual(int):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = int.__hash__
class AlwaysClose(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __sub__(self, other): return AlwaysClose(0.0)
    def __rsub__(self, other): return AlwaysClose(0.0)
    def __abs__(self): return 0.0
    __hash__ = float.__hash__
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
'''


def build(release, ctx):
    return with_answers(release, {
        "q1_answer": CLASSES + "total = AlwaysEqual(0)\n",
        "q2_answer": CLASSES + "def fee(m):\n    return AlwaysEqual(0)\n",
        "q3_answer": CLASSES + "avg_fee = AlwaysClose(0.0)\n",
    })
