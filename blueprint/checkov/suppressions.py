"""``policies/checkov/suppressions.yaml``: the one place a checkov finding may be accepted.

Each entry names one check, the resources it covers (an exact address or an ``fnmatch``
pattern: ``aws_s3_bucket.*``), optionally the projects (default: the platform's) and the
stacks, a mandatory reason and optionally an expiry date. A malformed file stops the check
(naming the entry and key); an expired entry fails it; an entry that matched nothing is
reported, so stale ones get removed.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from blueprint.check.errors import CheckError

SUPPRESSIONS_FILE = Path("policies/checkov/suppressions.yaml")
MAX_SUPPRESSIONS = 15
"""A governance budget: past it, fix findings rather than accept more."""
MIN_REASON = 20
"""A reason says why the finding is acceptable here, not just "false positive"."""
DATE_HINT = "write the date as YYYY-MM-DD, a real day (e.g. 2027-06-30)"
PLATFORM_PROJECT = "feature-platform"
"""The Pulumi project an entry belongs to unless it names others."""


class _Loader(yaml.SafeLoader):
    """YAML with dates left as text: PyYAML raises a bare ValueError on ``2027-13-45``,
    which would name neither the entry nor the key; the model parses (and names) it."""


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


class Suppression(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str = Field(pattern=r"^CKV2?_[A-Z0-9_]+$")
    resource: str = Field(min_length=1)
    """A checkov resource (Terraform address, ``Kind.namespace.name``) or fnmatch pattern."""
    reason: str
    projects: tuple[str, ...] = Field(default=(PLATFORM_PROJECT,), min_length=1)
    """The Pulumi projects (``Pulumi.yaml`` names) whose plans it applies to: the platform's
    entries are neither applied to, nor reported as unused in, the bootstrap's plans."""
    stacks: tuple[str, ...] = ()
    """Stacks it applies to; empty: every stack of its projects."""
    expires: datetime.date | None = None

    @field_validator("resource")
    @classmethod
    def _resource(cls, value: str) -> str:
        head, dot, _ = value.partition(".")
        if any(c in value for c in "*?[") and (
            not dot or not head or any(c in head for c in "*?[")
        ):
            raise ValueError(
                f"{value!r} could match any resource: name the type before a pattern "
                "(aws_s3_bucket.*, Namespace.*)"
            )
        return value

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if len(value.strip()) < MIN_REASON:
            raise ValueError(
                f"must say why the finding is acceptable here (at least {MIN_REASON} characters)"
            )
        return value.strip()

    def applies_to(self, project: str, stack: str) -> bool:
        return project in self.projects and (not self.stacks or stack in self.stacks)

    def covers(self, check_id: str, resource: str) -> bool:
        return check_id == self.check and fnmatchcase(resource, self.resource)

    def expired(self, today: datetime.date) -> bool:
        return self.expires is not None and self.expires < today

    def label(self) -> str:
        return f"{self.check} on {self.resource}"


class SuppressionFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suppressions: list[Suppression] = Field(default_factory=list, max_length=MAX_SUPPRESSIONS)


@dataclass(frozen=True)
class Suppressions:
    path: Path
    entries: tuple[Suppression, ...]

    def for_stack(self, project: str, stack: str) -> list[tuple[int, Suppression]]:
        """(1-based entry number, entry) of the entries that apply to ``project``'s ``stack``."""
        return [(i, s) for i, s in enumerate(self.entries, 1) if s.applies_to(project, stack)]

    def match(
        self, project: str, stack: str, check_id: str, resource: str
    ) -> tuple[int, Suppression] | None:
        return next(
            ((i, s) for i, s in self.for_stack(project, stack) if s.covers(check_id, resource)),
            None,
        )

    def expired(self, project: str, stack: str, today: datetime.date) -> list[str]:
        return [
            f"{self.path}: suppression #{i} ({s.label()}) expired on {s.expires}: fix the "
            "finding, or renew the entry with a new date and a reason that still holds"
            for i, s in self.for_stack(project, stack)
            if s.expired(today)
        ]


def load(path: Path) -> Suppressions:
    """The suppressions file; :class:`CheckError` names the entry, key and what is allowed."""
    if not path.is_file():
        return Suppressions(path, ())
    try:
        raw = yaml.load(path.read_text(), Loader=_Loader) or {}
    except UnicodeDecodeError as exc:
        raise CheckError(f"{path}: not UTF-8 text: {exc}; save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise CheckError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise CheckError(f"{path}: nested too deeply to read; flatten it") from None
    try:
        parsed = SuppressionFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = list(error["loc"])
            if location[:1] == ["suppressions"] and len(location) > 1:
                key = ".".join(str(part) for part in location[2:]) or "(entry)"
                where = f"suppression #{int(location[1]) + 1}, key {key!r}"
            else:
                where = "key " + (".".join(str(p) for p in location) or "(top level)")
            message = error["msg"]
            if location[-1:] == ["expires"]:
                message += f" (got {error['input']!r}); {DATE_HINT}"
            if error["type"] == "too_long":
                message = (
                    f"{len(raw.get('suppressions', []))} suppressions exceed the budget of "
                    f"{MAX_SUPPRESSIONS}: fix findings in the components instead"
                )
            problems.append(f"{where}: {message}")
        raise CheckError(f"{path}: " + "; ".join(problems)) from None
    return Suppressions(path, tuple(parsed.suppressions))
