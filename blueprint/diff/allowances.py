"""``policies/replacements.yaml``: the one place a blocking replacement or delete is accepted.

A replacement or delete of a protected or stateful resource loses what it holds, so
``blueprint check --base`` and ``blueprint diff`` fail on it unless an allowance here covers
it. Each allowance names the stack, the resource (its URN, or its type and an ``fnmatch``
pattern on its name), a reason and an expiry date: accepting the loss of data is a decision
for one change, not a standing exception. A malformed file (an allowance without a reason,
say) stops the command (exit 2); an expired allowance covers nothing and fails it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from blueprint.check.errors import CheckError
from blueprint.diff.compare import PlanDiff, ResourceDiff
from blueprint.stackfile import StackFileError, load_yaml

ALLOWANCES_FILE = Path("policies/replacements.yaml")
MIN_REASON = 20
"""A reason says why losing what the resource holds is acceptable, not just "approved"."""


class AllowanceError(CheckError):
    """The allowances file is unreadable or an entry is invalid (exit 2)."""


class Allowance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stack: str = Field(min_length=1)
    urn: str = ""
    type: str = ""
    name: str = ""
    """An ``fnmatch`` pattern on the resource's logical name (with ``type``)."""
    reason: str
    expires: datetime.date

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if len(value.strip()) < MIN_REASON:
            raise ValueError(
                "must say why losing what the resource holds is acceptable "
                f"(at least {MIN_REASON} characters)"
            )
        return value.strip()

    @model_validator(mode="after")
    def _target(self) -> Allowance:
        if bool(self.urn) == bool(self.type or self.name):
            raise ValueError("name the resource either by urn, or by type and name (a pattern)")
        if not self.urn and not (self.type and self.name):
            raise ValueError("type and name go together")
        return self

    def covers(self, stack: str, change: ResourceDiff) -> bool:
        if stack != self.stack:
            return False
        if self.urn:
            return self.urn in (change.urn, change.previous_urn)
        return self.type == change.type and fnmatchcase(change.name, self.name)

    def expired(self, today: datetime.date) -> bool:
        return self.expires < today

    def label(self) -> str:
        return self.urn or f"{self.type} {self.name}"


class AllowanceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowances: list[Allowance] = Field(default_factory=list)


@dataclass(frozen=True)
class Blocking:
    """A blocking change and the allowance that accepts it (None: it blocks)."""

    change: ResourceDiff
    allowance: Allowance | None = None


@dataclass
class Judged:
    blocking: list[Blocking] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Expired allowances that would have matched: they fail the command by themselves."""

    @property
    def unallowed(self) -> list[ResourceDiff]:
        return [b.change for b in self.blocking if b.allowance is None]

    @property
    def passed(self) -> bool:
        return not self.unallowed and not self.errors


def load(path: Path) -> list[Allowance]:
    """The allowances in ``path`` (none if it does not exist); :class:`AllowanceError` if bad."""
    if not path.is_file():
        return []
    try:
        # The stack files' reader: duplicate keys refused, dates left as text for the model
        # to parse (and name), unreadable or non-UTF-8 files a clean error.
        data = load_yaml(path) or {}
        return AllowanceFile.model_validate(data).allowances
    except StackFileError as exc:
        raise AllowanceError(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise AllowanceError(f"{path}: {problems}") from None


def judge(diff: PlanDiff, allowances: list[Allowance], today: datetime.date) -> Judged:
    judged = Judged()
    for change in diff.blocking:
        matching = [a for a in allowances if a.covers(diff.stack, change)]
        live = [a for a in matching if not a.expired(today)]
        judged.blocking.append(Blocking(change, live[0] if live else None))
        judged.errors += [
            f"{ALLOWANCES_FILE}: the allowance for {a.label()} expired on {a.expires}: "
            "renew it with a reason, or avoid the replacement"
            for a in matching
            if a.expired(today)
        ]
    return judged
