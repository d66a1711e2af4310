"""The misconception bank of a module (``solutions/mNN/misconceptions.yml``), read and checked.

Each entry is a plausible wrong answer: the answer cell it replaces, the test cells that must
reject it, the replacement code, a Korean explanation for the learner and (optional) the lesson
section to revisit. The quality gates grade every entry; the diagnosis names the entry a wrong
answer matches (policylab.grading.diagnosis). Never released: nbgrader_config.py ignores the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

REQUIRED = ("id", "cell", "targets", "description", "code")
DEFAULT_REVIEW = "수업 노트북의 '흔한 실수' 절"


class BankError(ValueError):
    """The bank file is unusable; the message names the file and the entry."""


@dataclass(frozen=True)
class Misconception:
    id: str
    cell: str                   # grade_id of the answer cell the mistake replaces
    targets: tuple[str, ...]    # grade_ids of the test cells that must reject it
    description: str            # Korean: what the learner did
    code: str                   # the wrong answer, as a learner would write it
    review: str = DEFAULT_REVIEW  # Korean: the lesson section to revisit

    def feedback(self) -> str:
        """The learner-facing text: the mistake, then where to look again."""
        return f"{self.description.strip()} 다시 볼 곳: {self.review.strip()}."


def load_bank(path: Path, *, lesson: str = "") -> list[Misconception]:
    """Read a bank; a missing file is an empty bank, a malformed one raises BankError naming the entry.

    ``lesson``: the module's lesson notebook file name, named in the default place to look again."""
    default = f"수업 노트북({lesson})의 '흔한 실수' 절" if lesson else DEFAULT_REVIEW
    path = Path(path)
    if not path.is_file():
        return []
    try:
        # libyaml's loader where PyYAML has it: a grading worker reads the bank once per failed notebook
        entries = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or []
    except yaml.YAMLError as exc:
        raise BankError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(entries, list):
        raise BankError(f"{path}: expected a list of misconceptions")
    bank, seen = [], set()
    for number, entry in enumerate(entries, start=1):
        missing = [k for k in REQUIRED if not isinstance(entry, dict) or not entry.get(k)]
        if missing:
            raise BankError(f"{path}: entry {number} lacks {', '.join(missing)}")
        if entry["id"] in seen:
            raise BankError(f"{path}: misconception id {entry['id']!r} is listed twice")
        seen.add(entry["id"])
        if "NotImplementedError" in str(entry["code"]):  # that is an untouched answer (diagnosis relies on it)
            raise BankError(f"{path}: misconception {entry['id']!r} raises NotImplementedError, which is what an "
                            "unanswered cell raises; a wrong answer must be an answer")
        targets = entry["targets"] if isinstance(entry["targets"], list) else [entry["targets"]]
        bank.append(Misconception(str(entry["id"]), str(entry["cell"]), tuple(map(str, targets)),
                                  str(entry["description"]), str(entry["code"]),
                                  str(entry.get("review") or default)))
    return bank
