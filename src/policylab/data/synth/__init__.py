"""The synthetic generator and its planted truth: everything here reveals answers.

``truth`` records every planted effect, the other modules make the raw tables from one seed.
Learners must not read this folder: the grading sandbox hides it (an empty mount over it, so
its compiled ``__pycache__`` is hidden too) and the hub's layout makes it trainers-only.
"""
