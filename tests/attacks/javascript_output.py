"""An answer cell displays an ``application/javascript`` output (IPython's ``Javascript``), which
nbconvert's HTML writes as a live ``<script>`` unless it sanitizes. It must reach no page."""
from attacks.course import with_answers

ENDS = "completed"
PAYLOAD = "window.__pwned = 1"


def build(release, ctx):
    return with_answers(release, {"q1_answer": f'''
from IPython.display import Javascript, display
display(Javascript("{PAYLOAD}; /* PWNED-" + "JAVASCRIPT */"))
'''})
