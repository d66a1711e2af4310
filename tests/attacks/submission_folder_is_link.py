"""Replaces the submission folder itself (grading/submitted/<learner>/m01) with a link to
solutions/m01, so the grader would grade the source notebook as the learner's."""
import shutil

from attacks.course import MODULE

REFUSED = f"링크 파일은 제출할 수 없습니다: submission_folder_is_link/{MODULE}"


def build(release, ctx):
    return release


def plant(folder, ctx):
    shutil.rmtree(folder)
    folder.symlink_to(ctx.root / "solutions" / MODULE, target_is_directory=True)
