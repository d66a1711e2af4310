"""Progress reports and the manager dashboard: snapshot → papermill → HTML (see render.py)."""
