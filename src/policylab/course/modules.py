"""The curriculum map: course.yml read into records every other module uses."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from policylab.course.paths import find_root

STATUSES = ("ready", "planned")


@dataclass(frozen=True)
class Module:
    id: str
    slug: str
    title_ko: str
    title_en: str
    datasets: tuple[str, ...]
    skills: tuple[str, ...]
    points: int
    status: str
    root: Path
    autograded: tuple[int, int] = (5, 8)  # allowed number of autograded questions
    # each learner's exercise reads their own draw (policylab.data.draws) and the hidden tests ask
    # solutions/<id>/reference.py; False: the module still reads the shared datasets/
    converted: bool = False
    # `policylab check` before submitting: allowed (training) or not (assessment mode), and how many
    # checks each learner gets (None: unlimited). course.yml: checks: off | unlimited | <number>
    checks: bool = True
    check_limit: int | None = None

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def lesson(self) -> Path:
        return self.root / "notebooks" / f"{self.id}_{self.slug}.ipynb"

    @property
    def source(self) -> Path:
        return self.root / "solutions" / self.id / f"{self.id}.ipynb"

    @property
    def release(self) -> Path:
        return self.root / "exercises" / self.id / f"{self.id}.ipynb"

    @property
    def reference(self) -> Path:
        return self.root / "solutions" / self.id / "reference.py"

    @property
    def misconceptions(self) -> Path:
        return self.root / "solutions" / self.id / "misconceptions.yml"


class CourseError(ValueError):
    """course.yml is malformed; the message names the entry and the fix."""


def load_course(root: Path | None = None) -> dict:
    root = Path(root) if root else find_root()
    path = root / "course.yml"
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict) or not isinstance(data.get("modules"), list):
        raise CourseError(f"{path}: expected a mapping with a 'modules' list")
    return data


def load_modules(root: Path | None = None, *, ready_only: bool = False) -> list[Module]:
    """All modules in course order; ``ready_only`` keeps those whose material exists."""
    root = Path(root) if root else find_root()
    data = load_course(root)
    skills = set(data.get("skills", {}))
    modules, seen = [], set()
    for i, entry in enumerate(data["modules"]):
        where = f"{root / 'course.yml'}: module #{i + 1} ({entry.get('id', '?')})"
        try:
            module = Module(
                id=entry["id"],
                slug=entry["slug"],
                title_ko=entry["title"]["ko"],
                title_en=entry["title"]["en"],
                datasets=tuple(entry.get("datasets", ())),
                skills=tuple(entry.get("skills", ())),
                points=int(entry["points"]),
                status=entry["status"],
                root=root,
                autograded=tuple(entry.get("autograded", (5, 8))),
                converted=bool(entry.get("converted", False)),
                **_checks(entry.get("checks", "unlimited"), where),
            )
        except (KeyError, TypeError) as exc:
            raise CourseError(f"{where}: missing or malformed field {exc}") from None
        if module.id in seen:
            raise CourseError(f"{where}: duplicate id")
        if module.status not in STATUSES:
            raise CourseError(f"{where}: status must be one of {STATUSES}, not {module.status!r}")
        unknown = set(module.skills) - skills
        if unknown:
            raise CourseError(f"{where}: skills {sorted(unknown)} are not declared under 'skills'")
        seen.add(module.id)
        modules.append(module)
    return [m for m in modules if m.ready] if ready_only else modules


def _checks(value, where: str) -> dict:
    """course.yml's ``checks``: off (YAML reads it as false), unlimited (or true), or a positive number."""
    if value is False or value == "off":
        return {"checks": False, "check_limit": None}
    if value is True or value == "unlimited":
        return {"checks": True, "check_limit": None}
    if isinstance(value, int) and value > 0:
        return {"checks": True, "check_limit": value}
    raise CourseError(f"{where}: checks must be off, unlimited or a positive number of checks per learner, "
                      f"not {value!r}")


def get_module(module_id: str, root: Path | None = None) -> Module:
    for module in load_modules(root):
        if module.id == module_id:
            return module
    known = ", ".join(m.id for m in load_modules(root))
    raise CourseError(f"Unknown module {module_id!r}; course.yml lists: {known}")


def course_map_markdown(root: Path | None = None) -> str:
    """The README's course map, generated so it cannot disagree with course.yml."""
    status = {"ready": "준비됨 (ready)", "planned": "예정 (planned)"}
    lines = ["| id | 모듈 | module | 데이터 (datasets) | 배점 | 상태 |", "|---|---|---|---|---|---|"]
    for m in load_modules(root):
        data = ", ".join(f"`{d}`" for d in m.datasets) or "—"
        lines.append(f"| {m.id} | {m.title_ko} | {m.title_en} | {data} | {m.points} | {status[m.status]} |")
    return "\n".join(lines)
