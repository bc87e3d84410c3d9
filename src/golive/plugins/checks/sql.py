"""SQL check: run a read-only query and compare rows, a scalar or the row count."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from golive import results
from golive.plugins import _sql, _util, base
from golive.spec import codecheck

__all__ = ["SqlCheck", "SqlExpect", "SqlParams"]


class SqlExpect(_util.ExpectBase):
    """What the query must return. A string is a condition (names: rows, records, row_count, scalar,
    columns)."""

    names: ClassVar[frozenset[str]] = frozenset({"rows", "records", "row_count", "scalar", "columns"})

    rows: list[list[Any]] | None = Field(default=None, description="The exact rows, as lists of values.")
    scalar: Any = Field(default=None, description="The value of the first column of the first row.")
    row_count: int | None = Field(default=None, ge=0, description="The exact number of rows.")
    min_rows: int | None = Field(default=None, ge=0, description="At least this many rows.")
    max_rows: int | None = Field(default=None, ge=0, description="At most this many rows.")


class SqlParams(base.Params):
    """A query against a database named by a SQLAlchemy URL."""

    url: str = Field(
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user:${{ secrets.db_password }}@host/db or "
        "sqlite:///app.db.",
        min_length=1,
    )
    query: str = Field(
        description="The SQL query (bound parameters as :name; a whole query may come from a var declared "
        "`type: sql`).",
        min_length=1,
        json_schema_extra=codecheck.code_field("sql"),
    )
    parameters: dict[str, Any] = Field(default_factory=dict, description="Values for :name parameters.")
    timeout: _util.Duration | None = Field(default=None, description="Time limit (default: the step's timeout).")
    expect: SqlExpect = Field(default_factory=SqlExpect, description="Rows, scalar or row count expected.")


def _same_rows(seen: list[list[Any]], want: list[list[Any]]) -> bool:
    return len(seen) == len(want) and all(
        len(a) == len(b) and all(_util.same(x, y) for x, y in zip(a, b, strict=True))
        for a, b in zip(seen, want, strict=True)
    )


class SqlCheck(base.CheckPlugin):
    """Run a query in a transaction that is rolled back, and compare what it returns."""

    name = "sql"
    params = SqlParams
    description = "SQL query by SQLAlchemy URL; expect rows, a scalar value or a row count."

    async def run(self, ctx: base.StepContext) -> results.Result:
        p: SqlParams = ctx.params
        timeout = _util.step_timeout(ctx, p.timeout)
        details = {"database": _sql.safe_url(p.url)}
        try:
            res = await _sql.execute(p.url, [p.query], p.parameters, timeout=timeout, write=False)
        except _sql.SqlFailure as exc:
            return _util.finish(ctx, results.Outcome.ERROR, exc.message, details=details)
        scalar = res.rows[0][0] if res.rows and res.rows[0] else None
        output = {"columns": res.columns, "rows": res.rows[:100], "row_count": res.rowcount, "scalar": scalar}
        exp = p.expect
        judged = _util.Verdicts()
        n = res.rowcount
        if exp.row_count is not None:
            judged.compare("row_count", n, "==", exp.row_count, n == exp.row_count)
        if exp.min_rows is not None:
            judged.compare("row_count", n, ">=", exp.min_rows, n >= exp.min_rows)
        if exp.max_rows is not None:
            judged.compare("row_count", n, "<=", exp.max_rows, n <= exp.max_rows)
        if "scalar" in exp.model_fields_set:
            if not res.rows:
                judged.add(False, f"no rows, expected scalar == {_util.fmt(exp.scalar)}")
            else:
                judged.compare("scalar", scalar, "==", exp.scalar, _util.same(scalar, exp.scalar))
        if exp.rows is not None:
            judged.compare("rows", res.rows, "==", exp.rows, _same_rows(res.rows, exp.rows))
        verdict = exp.condition_verdict(
            {
                "rows": res.rows,
                "records": res.records,
                "row_count": res.rowcount,
                "scalar": scalar,
                "columns": res.columns,
            }
        )
        if verdict is not None:
            judged.add(*verdict)
        if judged.failures:
            return _util.finish(ctx, results.Outcome.FAIL, judged.summary(), details=details, output=output)
        seen = f"{n} row{'s' if n != 1 else ''}" + (f", scalar={_util.fmt(scalar)}" if res.rows else "")
        summary = judged.summary(f"{seen} (no expectation)")
        return _util.finish(ctx, results.Outcome.PASS, summary, details=details, output=output)
