"""Git check: the checked-out code is the release that was approved (commit pin and/or tag)."""

from __future__ import annotations

from pydantic import Field

from golive import results
from golive.plugins import _proc, _util, base

__all__ = ["GitCheck", "GitParams"]

GIT_TIMEOUT = 30.0  # seconds for one git command


class GitParams(base.Params):
    """A repository whose HEAD (or a tag) must equal the release pin."""

    repo: str = Field(default=".", description="Path to the repository (relative to the run's directory).")
    ref: str = Field(default="HEAD", description="What is checked out / deployed: a ref, branch or HEAD.")
    sha: str | None = Field(
        default=None, description="Expected commit (full or abbreviated); default: the run's release pin `sha`."
    )
    tag: str | None = Field(
        default=None, description="A tag that must point at `ref`; default: the run's release pin `tag`."
    )
    clean: bool = Field(default=False, description="Also require no uncommitted changes to tracked files.")


async def _git(ctx: base.StepContext, repo: str, *args: str) -> tuple[int | None, str, str]:
    res = await _proc.run_command(
        ["git", "-C", str(_util.resolve_path(ctx, repo)), *args],
        cwd=ctx.workdir,
        env={"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        timeout=GIT_TIMEOUT,
    )
    if res.timed_out:
        return None, "", f"git {' '.join(args)} timed out"
    return res.exit_code, res.stdout.strip(), res.stderr.strip()


class GitCheck(base.CheckPlugin):
    """Compare a ref with the release pin ``{"sha": ..., "tag": ...}`` of the run (or params)."""

    name = "git"
    params = GitParams
    description = "HEAD (or a ref) equals the release pin sha; the release tag points at it; optionally clean."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: GitParams = ctx.params
        want_sha = p.sha or ctx.release.get("sha")
        want_tag = p.tag or ctx.release.get("tag")
        if not want_sha and not want_tag:
            return _util.finish(
                ctx,
                results.Outcome.ERROR,
                "no release pin to compare with: set `sha` or `tag`, or the runbook's release pin",
            )
        try:
            code, head, err = await _git(ctx, p.repo, "rev-parse", "--verify", f"{p.ref}^{{commit}}")
        except _proc.ProcFailure as exc:
            return _util.finish(ctx, results.Outcome.ERROR, exc.message)
        if code != 0:
            return _util.finish(
                ctx, results.Outcome.ERROR, f"cannot resolve {p.ref} in {p.repo}: {err or 'git failed'}"
            )
        output: dict[str, object] = {"sha": head, "ref": p.ref}
        failures = []
        if want_sha:
            code, pinned, err = await _git(ctx, p.repo, "rev-parse", "--verify", "--quiet", f"{want_sha}^{{commit}}")
            if code != 0 or pinned != head:
                shown = pinned[:12] if code == 0 else f"{want_sha} (not in this repository)"
                failures.append(f"{p.ref} is {head[:12]}, expected {shown}")
        if want_tag:
            code, tagged, _err = await _git(
                ctx, p.repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{want_tag}^{{commit}}"
            )
            if code != 0:
                failures.append(f"tag {want_tag} does not exist, expected it at {head[:12]}")
            elif tagged != head:
                failures.append(f"tag {want_tag} is at {tagged[:12]}, expected {p.ref} {head[:12]}")
            else:
                output["tag"] = want_tag
        if p.clean:
            code, status, err = await _git(ctx, p.repo, "status", "--porcelain", "--untracked-files=no")
            if code != 0:
                return _util.finish(ctx, results.Outcome.ERROR, f"git status failed: {err}")
            if status:
                changed = len(status.splitlines())
                failures.append(f"{changed} tracked file{'s' if changed != 1 else ''} changed, expected a clean tree")
        if failures:
            return _util.finish(ctx, results.Outcome.FAIL, "; ".join(failures), output=output)
        what = " and ".join(
            x for x in (f"pin {head[:12]}" if want_sha else "", f"tag {want_tag}" if want_tag else "") if x
        )
        return _util.finish(ctx, results.Outcome.PASS, f"{p.ref} matches {what}", output=output)
