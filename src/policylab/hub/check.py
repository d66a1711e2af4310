"""`policylab hub check`: ask the running hub, as a trainer, a learner and a manager, whether the layout behaves.

File modes are read from disk, the gradebook is opened, and the hub's REST API starts each
role's server to see what it can reach: a deployment is only right if it behaves right.
"""
from __future__ import annotations

import grp
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from policylab.hub.settings import (
    EXCHANGE_MODES,
    HubError,
    HubSettings,
    answers_dir,
    in_group,
    members,
    read_course_id,
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def check_exchange(settings: HubSettings) -> list[Check]:
    """Modes and groups of the exchange as ``init`` set them, and nothing world-writable but inbound."""
    results = []
    root = Path(settings.exchange_root)
    course = root / settings.course_id
    paths = {"": root, "course": course, **{n: course / n for n in ("outbound", "inbound", "feedback")}}
    groups = {"": settings.course_group}
    for key, path in paths.items():
        label = str(path)
        try:
            st = path.stat()
        except FileNotFoundError:
            results.append(Check(f"exchange {key or 'root'}", False, f"{label} is missing"))
            continue
        group = grp.getgrgid(st.st_gid).gr_name
        want_group = groups.get(key, settings.trainer_group)
        mode = stat.S_IMODE(st.st_mode)
        problems = []
        if mode != EXCHANGE_MODES[key]:
            problems.append(f"mode {mode:04o}, expected {EXCHANGE_MODES[key]:04o}")
        if group != want_group:
            problems.append(f"group {group}, expected {want_group}")
        if mode & stat.S_IWOTH and key != "inbound":
            problems.append("world-writable")
        results.append(Check(f"exchange {key or 'root'}", not problems, f"{label}: " + ("; ".join(problems) or
                                                                                          f"{mode:04o} {group}")))
    return results


def check_answers_hidden(settings: HubSettings) -> Check:
    """The installed ``policylab/data/synth/`` (the data lessons' answers) is readable by trainers only:
    every entry in the trainers' group with nothing for others, recursively."""
    try:
        folder = answers_dir(settings.python)
    except Exception as exc:  # noqa: BLE001 - a python that cannot say where policylab is fails the check
        return Check("answers trainers-only", False, f"{settings.python}: cannot find policylab.data.synth ({exc})")
    problems = []
    for path in [folder, *sorted(folder.rglob("*"))]:
        st = path.lstat()
        group = grp.getgrgid(st.st_gid).gr_name if _gid_known(st.st_gid) else str(st.st_gid)
        if st.st_mode & 0o007:
            problems.append(f"{path}: others have {stat.S_IMODE(st.st_mode) & 0o007:o}")
        elif st.st_mode & 0o070 and group != settings.trainer_group:
            problems.append(f"{path}: group {group} (learners may be in it), expected {settings.trainer_group}")
    detail = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    return Check("answers trainers-only", not problems,
                 f"{folder}: " + (detail + " — run `policylab hub init` again" if problems
                                  else f"{settings.trainer_group} only"))


def _gid_known(gid: int) -> bool:
    try:
        grp.getgrgid(gid)
        return True
    except KeyError:
        return False


def check_gradebook(settings: HubSettings) -> Check:
    from sqlalchemy import create_engine, inspect, text

    url = Path(settings.gradebook_url_file).read_text(encoding="utf-8").strip()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            tables = set(inspect(conn).get_table_names())
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the finding
        return Check("gradebook reachable", False, f"{engine.url.render_as_string()}: {exc.__class__.__name__}: "
                                                    f"{str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    detail = f"{engine.url.render_as_string()} ({'nbgrader tables present' if 'assignment' in tables else 'empty'})"
    return Check("gradebook reachable", True, detail)


class HubClient:
    """The hub's REST API with the check service's token, and servers with per-user tokens."""

    def __init__(self, url: str, token: str, timeout: float = 30):
        import requests

        self.url, self.timeout = url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def api(self, method: str, path: str, **kw):
        response = self.session.request(method, f"{self.url}/hub/api{path}", timeout=self.timeout, **kw)
        if response.status_code >= 400:
            raise HubError(f"{method} /hub/api{path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def user_token(self, user: str, scopes: list[str] | None = None) -> str:
        body = {"note": "policylab hub check", "expires_in": 600,
                "scopes": scopes or [f"access:servers!user={user}"]}
        return self.api("POST", f"/users/{user}/tokens", json=body)["token"]

    def ensure_user(self, user: str) -> None:
        try:
            self.api("GET", f"/users/{user}")
        except HubError:  # PAM adds users at their first login: add them for the check
            self.api("POST", f"/users/{user}")

    def ensure_server(self, user: str, wait: float = 90) -> bool:
        """Start ``user``'s server unless it runs; True if this call started it."""
        try:
            model = self.api("GET", f"/users/{user}")
        except HubError:  # PAM adds users at their first login: add them for the check
            model = self.api("POST", f"/users/{user}")
        if model.get("servers", {}).get("", {}).get("ready"):
            return False
        self.session.post(f"{self.url}/hub/api/users/{user}/server", timeout=self.timeout)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{user}")
            if model.get("servers", {}).get("", {}).get("ready"):
                return True
            time.sleep(0.5)
        raise HubError(f"{user}'s server did not start within {wait:.0f} s; see the hub's log.")

    def stop_server(self, user: str) -> None:
        self.session.delete(f"{self.url}/hub/api/users/{user}/server", timeout=self.timeout)

    def get(self, user_token: str, path: str):
        import requests

        return requests.get(f"{self.url}{path}", headers={"Authorization": f"token {user_token}"},
                            timeout=self.timeout, allow_redirects=False)


def check_running(settings: HubSettings, *, url: str, trainer: str, learner: str) -> list[Check]:
    """Ask the running hub: formgrader for the trainer only, the same course id everywhere."""
    token = Path(settings.check_token_file).read_text(encoding="utf-8").strip()
    hub = HubClient(url, token)
    results = []
    started = []
    try:
        for user in (trainer, learner):
            if hub.ensure_server(user):
                started.append(user)
        tokens = {user: hub.user_token(user) for user in (trainer, learner)}

        r = hub.get(tokens[trainer], f"/user/{trainer}/formgrader/api/assignments")
        results.append(Check("formgrader: trainer", r.status_code == 200,
                             f"/user/{trainer}/formgrader/api/assignments → HTTP {r.status_code}"))
        trainer_ids = {a.get("name") for a in r.json()} if r.status_code == 200 else set()
        r = hub.get(tokens[learner], f"/user/{learner}/formgrader")
        results.append(Check("formgrader: not for learners", r.status_code == 404,
                             f"/user/{learner}/formgrader → HTTP {r.status_code} (expected 404: extension off)"))
        r = hub.get(tokens[learner], f"/user/{trainer}/formgrader")
        results.append(Check("formgrader: learner kept out of the trainer's server", r.status_code in (302, 403),
                             f"learner token on /user/{trainer}/formgrader → HTTP {r.status_code}"))

        r = hub.get(tokens[learner], f"/user/{learner}/assignments?course_id={settings.course_id}")
        listed = r.json().get("value", []) if r.status_code == 200 else []
        courses = {a.get("course_id") for a in listed}
        config_id = read_course_id(Path(settings.course_root))
        from policylab.course.modules import load_course

        yml_id = load_course(Path(settings.course_root)).get("course_id", config_id)
        exchange_ids = {p.name for p in Path(settings.exchange_root).iterdir() if p.is_dir()}
        consistent = (r.status_code == 200 and config_id == settings.course_id == yml_id
                      and exchange_ids == {settings.course_id} and courses <= {settings.course_id})
        results.append(Check("course id consistent", consistent,
                             f"settings {settings.course_id}, nbgrader_config.py {config_id}, course.yml {yml_id}, "
                             f"exchange {sorted(exchange_ids)}, learner's list {sorted(courses) or '(empty)'} "
                             f"(HTTP {r.status_code}), formgrader assignments {sorted(trainer_ids)}"))
        r = hub.get(tokens[learner], f"/user/{learner}/lab/api/settings/@jupyterlab/translation-extension:plugin")
        locale = None
        if r.status_code == 200:  # the user's own choice, else the default overrides.json sets
            body = r.json()
            locale = (body.get("settings") or {}).get("locale") or \
                body.get("schema", {}).get("properties", {}).get("locale", {}).get("default")
        results.append(Check("Korean interface for learners", locale == "ko_KR",
                             f"locale {locale!r} (HTTP {r.status_code})"))
    finally:
        for user in started:
            hub.stop_server(user)
    return results


def check_reports(settings: HubSettings, *, url: str, trainer: str, learner: str,
                  manager: str | None) -> list[Check]:
    """The reports service answers, and each role opens its own pages and gets 403 for the rest.

    "May open" is 200, or 404 while that page is not rendered yet; "may not" is 403, which the
    service decides before it looks for the file.
    """
    import requests

    from policylab.hub.reports_service import SCOPE_ALL, SCOPE_DASHBOARD, SCOPE_OWN, SERVICE_NAME

    token = Path(settings.check_token_file).read_text(encoding="utf-8").strip()
    hub = HubClient(url, token)
    base = f"/services/{SERVICE_NAME}/"
    results = []
    try:
        r = requests.get(f"{hub.url}{base}", timeout=hub.timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return [Check("reports service answers", False, f"{base}: {exc.__class__.__name__}: {exc}")]
    to_login = r.status_code == 302 and "oauth2/authorize" in r.headers.get("Location", "")
    results.append(Check("reports service answers", to_login,
                         f"{base} without login → HTTP {r.status_code} {r.headers.get('Location', '')[:80]}"))
    access = f"access:services!service={SERVICE_NAME}"
    other = trainer  # a report that is never the learner's own
    plan = [("trainer", trainer, SCOPE_ALL, ["index.html", "dashboard.html", f"learners/{learner}.html",
                                             "items.html", "item_analysis.csv", "plotly.min.js"], []),
            ("learner", learner, SCOPE_OWN, [f"learners/{learner}.html", "plotly.min.js"],
             [f"learners/{other}.html", "dashboard.html", "index.html", "items.html", "item_analysis.csv",
              f"learners/{learner}.ipynb"])]
    if manager:
        plan.append(("manager", manager, SCOPE_DASHBOARD, ["dashboard.html", "plotly.min.js"],
                     [f"learners/{learner}.html", "index.html", "items.html", "item_analysis.csv"]))
    for role, user, scope, may, may_not in plan:
        try:
            hub.ensure_user(user)
            user_token = hub.user_token(user, [access, scope])
        except HubError as exc:
            results.append(Check(f"reports: {role}", False, f"{user}: no token with {scope} ({exc})"))
            continue
        codes = {page: hub.get(user_token, base + page).status_code for page in may + may_not}
        wrong = [f"{page} → {codes[page]}" for page in may if codes[page] not in (200, 404)]
        wrong += [f"{page} → {codes[page]} (expected 403)" for page in may_not if codes[page] != 403]
        results.append(Check(f"reports: {role}", not wrong, f"{user}: " + ("; ".join(wrong) or
                             ", ".join(f"{p} {c}" for p, c in codes.items()))))
    return results


def check_precheck(settings: HubSettings, *, url: str, learner: str) -> Check:
    """The check service answers a learner (the scope their servers' tokens carry), without grading anything:
    a file that is not a notebook is refused by name (400) before any check runs."""
    import requests

    from policylab.hub.precheck_service import SERVICE_NAME

    hub = HubClient(url, Path(settings.check_token_file).read_text(encoding="utf-8").strip())
    try:
        hub.ensure_user(learner)
        token = hub.user_token(learner, [f"access:services!service={SERVICE_NAME}"])
        r = requests.post(f"{hub.url}/services/{SERVICE_NAME}/api/check", params={"name": "hub-check.txt"},
                          data=b"{}", headers={"Authorization": f"token {token}"}, timeout=hub.timeout)
    except (HubError, requests.RequestException) as exc:
        return Check("check service answers a learner", False, f"{learner}: {exc.__class__.__name__}: {exc}")
    return Check("check service answers a learner", r.status_code == 400,
                 f"{learner}: a non-notebook → HTTP {r.status_code} {r.text[:120]}")


def run_checks(settings: HubSettings, *, url: str | None, trainer: str | None, learner: str | None,
               manager: str | None = None) -> list[Check]:
    results = check_exchange(settings)
    results.append(check_answers_hidden(settings))
    results.append(check_gradebook(settings))
    services = {settings.reports_user, settings.checks_user}  # system users in the trainers' group
    trainer = trainer or next((u for u in members(settings.trainer_group) if u not in services), None)
    manager = manager or next(iter(members(settings.manager_group)), None)
    learner = learner or next((u for u in members(settings.course_group)
                               if not in_group(u, settings.trainer_group)), None)
    if not trainer or not learner:
        results.append(Check("hub", False, f"need a trainer (group {settings.trainer_group}) and a learner "
                                           f"(group {settings.course_group} only); pass --trainer/--learner"))
        return results
    try:
        results += check_running(settings, url=url or settings.bind_url, trainer=trainer, learner=learner)
        results += check_reports(settings, url=url or settings.bind_url, trainer=trainer, learner=learner,
                                 manager=manager)
        results.append(check_precheck(settings, url=url or settings.bind_url, learner=learner))
    except Exception as exc:  # noqa: BLE001 - a hub that cannot be asked is a failed check, not a crash
        results.append(Check("hub reachable", False, f"{exc.__class__.__name__}: {exc}"))
    return results


