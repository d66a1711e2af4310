"""The grading path: collect → autograde in the sandbox → states and gradebook → feedback → export."""
