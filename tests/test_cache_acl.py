"""The ElastiCache access-string evaluator (:mod:`blueprint.cacheacl.client`), canaried.

Every decision here is a real ``redis-server``'s (Redis 7.0, ``make redis``) answer to
``ACL DRYRUN``; each test pairs what a rule denies with what a looser rule allows, so a
evaluator that allowed or denied everything would fail it. Without ``redis-server`` these
tests fail (they never skip): the error names ``make redis``.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from blueprint.cacheacl.client import (
    AccessStringError,
    CacheAclError,
    Decision,
    RedisMissingError,
    Request,
    evaluate,
)

READER = "on ~a:* -@all +@read"
"""A reader confined to ``a:``, with no other rule: the canaries' baseline."""
ISSUE_STRING = "on ~search:* &search:* -@all +@read +@write +@connection -@dangerous"
"""The shape of a tenant's access string in the issue."""


def decide(access_string: str, *commands: str) -> dict[str, Decision]:
    """Each command (split on spaces) decided for one user holding ``access_string``."""
    requests = [Request("u", tuple(command.split())) for command in commands]
    return {" ".join(d.request.command): d for d in evaluate({"u": access_string}, requests)}


def allowed(access_string: str, *commands: str) -> dict[str, bool]:
    return {command: d.allowed for command, d in decide(access_string, *commands).items()}


def test_a_reader_reads_its_prefix_only_and_writes_nothing() -> None:
    decisions = decide(READER, "GET a:1", "GET b:1", "SET a:1 x", "MGET a:1 b:1")
    assert decisions["GET a:1"] == Decision(Request("u", ("GET", "a:1")), True, "OK")
    assert not decisions["GET b:1"].allowed
    assert decisions["GET b:1"].reason == "This user has no permissions to access the 'b:1' key"
    assert not decisions["SET a:1 x"].allowed
    assert "'set' command" in decisions["SET a:1 x"].reason
    # One key outside the prefix denies a multi-key command.
    assert "'b:1' key" in decisions["MGET a:1 b:1"].reason


def test_the_prefix_delimiter_matters() -> None:
    assert allowed("on ~a:* -@all +@read", "GET ab:1", "GET a:1") == {
        "GET ab:1": False,
        "GET a:1": True,
    }
    # Without the delimiter the pattern reaches another tenant's keys.
    assert allowed("on ~a* -@all +@read", "GET ab:1") == {"GET ab:1": True}


def test_dangerous_commands_are_denied_by_minus_dangerous_only() -> None:
    dangerous = ("KEYS *", "FLUSHALL", "CONFIG GET *")
    assert allowed("on ~a:* +@all -@dangerous", *dangerous, "GET a:1") == {
        "KEYS *": False,
        "FLUSHALL": False,
        "CONFIG GET *": False,
        "GET a:1": True,
    }
    assert allowed("on ~a:* +@all", *dangerous) == dict.fromkeys(dangerous, True)
    # KEYS is in @read too: a bare reader may list every tenant's key names.
    assert allowed(READER, "KEYS *") == {"KEYS *": True}


def test_scan_is_keyless_so_the_key_pattern_does_not_confine_it() -> None:
    # SCAN takes no key argument: ~a:* does not stop it walking (and naming) every key.
    assert allowed(READER, "SCAN 0", "SCAN 0 MATCH b:*") == {
        "SCAN 0": True,
        "SCAN 0 MATCH b:*": True,
    }
    assert allowed(ISSUE_STRING, "SCAN 0") == {"SCAN 0": True}
    # Only a command rule confines it.
    denied = decide(f"{READER} -scan", "SCAN 0")["SCAN 0"]
    assert not denied.allowed
    assert denied.reason == "This user has no permissions to run the 'scan' command"


def test_an_off_user_is_denied_everything() -> None:
    commands = ("GET a:1", "SET a:1 x", "PING", "SCAN 0")
    decisions = decide("off ~* &* +@all", *commands)
    assert {c: d.allowed for c, d in decisions.items()} == dict.fromkeys(commands, False)
    assert all(d.reason.startswith("WRONGPASS") for d in decisions.values())
    assert allowed("on ~* &* +@all", *commands) == dict.fromkeys(commands, True)
    # No on/off at all is off, as after ACL SETUSER reset.
    assert allowed("~* +@all", "GET a:1") == {"GET a:1": False}


def test_the_issue_string_confines_a_tenant_to_its_prefix() -> None:
    assert allowed(
        ISSUE_STRING,
        "GET search:1",
        "SET search:1 x",
        "PING",
        "GET recommendations:1",
        "SET recommendations:1 x",
        "MGET search:1 recommendations:1",
        "FLUSHDB",
        "KEYS *",
    ) == {
        "GET search:1": True,
        "SET search:1 x": True,
        "PING": True,
        "GET recommendations:1": False,
        "SET recommendations:1 x": False,
        "MGET search:1 recommendations:1": False,
        "FLUSHDB": False,
        "KEYS *": False,
    }


def test_read_and_write_key_permissions_are_enforced() -> None:
    assert allowed("on %R~a:* %W~w:* -@all +@read +@write", "GET a:1", "SET a:1 x",
                   "SET w:1 x", "GET w:1") == {
        "GET a:1": True,
        "SET a:1 x": False,
        "SET w:1 x": True,
        "GET w:1": False,
    }  # fmt: skip


def test_users_are_decided_apart_and_default_may_be_redefined() -> None:
    decisions = evaluate(
        {"a": "on ~a:* -@all +@read", "b": "on ~b:* -@all +@read", "default": "off"},
        [
            Request("a", ("GET", "a:1")),
            Request("a", ("GET", "b:1")),
            Request("b", ("GET", "a:1")),
            Request("b", ("GET", "b:1")),
            Request("default", ("GET", "a:1")),
        ],
    )
    assert [d.allowed for d in decisions] == [True, False, False, True, False]


def test_a_batch_of_500_keeps_its_order() -> None:
    requests = [Request("u", ("GET", f"{'ab'[i % 2]}:{i}")) for i in range(500)]
    started = time.perf_counter()
    decisions = evaluate({"u": READER}, requests)
    elapsed = time.perf_counter() - started
    assert [d.request for d in decisions] == requests
    assert [d.allowed for d in decisions] == [i % 2 == 0 for i in range(500)]
    assert all(f"'{d.request.command[1]}'" in d.reason for d in decisions if not d.allowed)
    assert elapsed < 10, f"500 requests took {elapsed:.2f}s"


def test_a_malformed_access_string_raises_naming_user_string_and_server() -> None:
    with pytest.raises(AccessStringError) as error:
        evaluate({"u": "~a:* +@notacategory"}, [Request("u", ("GET", "a:1"))])
    message = str(error.value)
    assert "'u'" in message
    assert "'~a:* +@notacategory'" in message
    assert "Unknown command or category name in ACL" in message


@pytest.mark.parametrize(
    "rule",
    [">s3cret", "<s3cret", "#" + "ab" * 32, "!" + "ab" * 32, "nopass", "NoPass", "resetpass"],
)
def test_a_password_rule_raises_without_repeating_the_password(rule: str) -> None:
    with pytest.raises(AccessStringError, match="carry no passwords") as error:
        evaluate({"u": f"on ~a:* {rule} +@read"}, [])
    assert "'u'" in str(error.value)
    assert "s3cret" not in str(error.value)
    assert "abab" not in str(error.value)


@pytest.mark.parametrize(
    ("request_", "reply"),
    [
        (Request("u", ("NOSUCHCOMMAND",)), "not found"),
        (Request("u", ("GET",)), "wrong number of arguments"),
        (Request("nobody", ("GET", "a:1")), "User 'nobody' not found"),
    ],
)
def test_a_reply_that_is_no_decision_raises(request_: Request, reply: str) -> None:
    with pytest.raises(CacheAclError, match=reply):
        evaluate({"u": READER}, [request_])


def test_the_server_is_stopped_after_success_and_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[list[str], subprocess.Popen[bytes]]] = []
    popen = subprocess.Popen

    def recording(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        process: subprocess.Popen[bytes] = popen(command, **kwargs)
        started.append((command, process))
        return process

    monkeypatch.setattr(subprocess, "Popen", recording)
    evaluate({"u": READER}, [Request("u", ("GET", "a:1"))])
    with pytest.raises(AccessStringError):
        evaluate({"u": "+@notacategory"}, [])
    with pytest.raises(CacheAclError):
        evaluate({"u": READER}, [Request("u", ("NOSUCHCOMMAND",))])
    assert len(started) == 3
    assert all(process.poll() is not None for _, process in started)
    # Bound to a unix socket only: TCP port 0 means no listener.
    assert all(command[command.index("--port") + 1] == "0" for command, _ in started)


def test_without_redis_server_the_error_names_make_redis(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RedisMissingError, match="make redis"):
        evaluate({"u": READER}, [Request("u", ("GET", "a:1"))])
