"""An answer cell displays HTML with a ``<script>``: live, it would run in the learner's (or, on
the hub, any viewer's) browser with their Jupyter session. It must reach no page as script."""
from attacks.course import with_answers

ENDS = "completed"
PAYLOAD = "window.__pwned = 1"


def build(release, ctx):
    return with_answers(release, {"q1_answer": f'''
from IPython.display import HTML, display
display(HTML("<p>PWNED-" + "HTML-SCRIPT</p><script>{PAYLOAD}; document.title = 'pwned'</script>"
             "<svg><script>{PAYLOAD}</script></svg>"))
'''})
