"""Sends its answers (and anything else) to a server on the grading machine's loopback."""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, f'''
import socket
try:
    with socket.create_connection(("127.0.0.1", {ctx.port}), timeout=3) as s:
        s.sendall(b"leak")
    print("sent")
except OSError as e:
    print("blocked", type(e).__name__)
''')
