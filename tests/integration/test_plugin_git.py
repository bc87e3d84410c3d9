"""Git check against a real repository made for the test."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from golive.plugins.checks.git import GitCheck, GitParams
from golive.results import Outcome
from golive.testing import make_ctx

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env)
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "svc"
    r.mkdir()
    git(r, "init", "-q")
    (r / "app.py").write_text("v1\n")
    git(r, "add", "app.py")
    git(r, "commit", "-q", "-m", "v1")
    git(r, "tag", "v1.0.0")
    (r / "app.py").write_text("v2\n")
    git(r, "commit", "-q", "-am", "v2")
    return r


async def test_git_check_passes_when_head_is_the_release_pin(repo: Path) -> None:
    """HEAD equal to the run's release pin sha passes."""
    head = git(repo, "rev-parse", "HEAD")
    result = await GitCheck().run(make_ctx(GitParams(repo=str(repo)), release={"sha": head[:10]}))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["sha"] == head


async def test_git_check_fails_when_head_is_another_commit(repo: Path) -> None:
    """HEAD at v2 with the pin at v1 fails with both commits."""
    v1 = git(repo, "rev-parse", "v1.0.0")
    head = git(repo, "rev-parse", "HEAD")
    result = await GitCheck().run(make_ctx(GitParams(repo=str(repo), sha=v1)))
    assert result.outcome is Outcome.FAIL
    assert f"HEAD is {head[:12]}, expected {v1[:12]}" in result.summary


async def test_git_check_fails_when_the_tag_is_elsewhere(repo: Path) -> None:
    """The release tag must point at HEAD."""
    result = await GitCheck().run(make_ctx(GitParams(repo=str(repo)), release={"tag": "v1.0.0"}))
    assert result.outcome is Outcome.FAIL
    assert "tag v1.0.0 is at" in result.summary


async def test_git_check_clean_tree(repo: Path) -> None:
    """`clean: true` fails when a tracked file changed."""
    (repo / "app.py").write_text("hotfix\n")
    head = git(repo, "rev-parse", "HEAD")
    result = await GitCheck().run(make_ctx(GitParams(repo=str(repo), sha=head, clean=True)))
    assert result.outcome is Outcome.FAIL
    assert "1 tracked file changed" in result.summary


async def test_git_check_without_a_pin_is_an_error(repo: Path) -> None:
    """No sha or tag to compare with is an ERROR, not a pass."""
    result = await GitCheck().run(make_ctx(GitParams(repo=str(repo))))
    assert result.outcome is Outcome.ERROR


async def test_git_check_not_a_repository_is_an_error(tmp_path: Path) -> None:
    """A path that is not a repository is an ERROR."""
    result = await GitCheck().run(make_ctx(GitParams(repo=str(tmp_path), sha="abc")))
    assert result.outcome is Outcome.ERROR
