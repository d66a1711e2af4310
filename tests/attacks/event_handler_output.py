"""An answer cell displays ``<img src=x onerror=...>``: no ``<script>`` tag, the browser runs the
handler when the image fails to load. No page may keep the handler attribute."""
from attacks.course import with_answers

ENDS = "completed"
PAYLOAD = "window.__pwned = 1"


def build(release, ctx):
    return with_answers(release, {"q1_answer": f'''
from IPython.display import HTML, display
display(HTML("<p>PWNED-" + "EVENT-HANDLER</p><img src=x onerror=\\"{PAYLOAD}\\">"
             "<a href=\\"javascript:{PAYLOAD}\\">link</a><div onmouseover=\\"{PAYLOAD}\\">hover</div>"))
'''})
