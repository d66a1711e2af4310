"""PolicyLab: a Jupyter curriculum in evidence-based policy analysis, and its tooling."""
import sys

# jsonschema (under nbformat) imports rfc3987_syntax when it is installed (jupyter-events' format
# extras install it) and that compiles a Lark grammar: about 0.9 s of CPU in every process, only to
# check "iri" formats, which no notebook schema uses. Every process that imports policylab before
# jsonschema skips it: the CLI, grading workers, the checker, trial kernels, report and feedback
# processes, `policylab check`. A process that imported jsonschema first is left as it is.
sys.modules.setdefault("rfc3987_syntax", None)

__version__ = "0.1.0"
