"""Per-learner draws: the builder (build.py) and one recipe per converted module (m01.py, m09.py …)."""
