"""Decide what an ElastiCache RBAC user may do, by asking a real Redis server.

ElastiCache access strings (``on ~search:* &search:* -@all +@read +@write -@dangerous``) are
Redis ACL rules without passwords. :func:`evaluate` starts a throwaway ``redis-server`` (Debian
bookworm's package, Redis 7.0; ``make redis`` installs it), bound to a unix socket in a
temporary directory only (no TCP port, no persistence), loads each user with
``ACL SETUSER <name> reset <access string> nopass`` and decides each :class:`Request` with
``ACL DRYRUN <user> <command> [args...]``, which checks a command against a user's ACL without
running it. Nothing here matches keys, categories or commands: the server decides, and a reply
this client does not recognise raises :class:`CacheAclError` rather than being guessed at.

One thing ``ACL DRYRUN`` does not check is whether the user is enabled: Redis 7.0.15 answers
``OK`` for an ``off`` user. So every user also logs in (``AUTH <user> <any>`` on a second
connection; ``nopass`` accepts any password), and the requests of a user the server refuses to
authenticate are denied with the server's ``WRONGPASS`` reply as the reason.

What a green answer means: the ACL of Redis 7.0's command table allows the command with these
arguments. It does not model what ElastiCache itself disables or renames (``CONFIG``, ...),
commands newer than Redis 7.0 (the server answers "unknown command", which raises), nor what a
keyless command returns: ``SCAN``/``KEYS`` take no key argument, so ``~prefix:*`` does not
confine the key *names* they list (only a ``-scan``/``-keys`` or ``-@keyspace`` rule does).
"""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAKE_TARGET = "make redis"
SERVER = "redis-server"
START_TIMEOUT = 10.0
"""Seconds to wait for the server's socket to answer PING."""
REPLY_TIMEOUT = 60.0
LOG_TAIL = 2000

PASSWORD_PREFIXES = (">", "<", "#", "!")
"""ACL SETUSER rules that add or remove a password (clear text or SHA-256)."""
PASSWORD_WORDS = frozenset({"nopass", "resetpass"})
"""ACL SETUSER rules about passwords that take no argument."""

DENIAL = re.compile(
    r"This user has no permissions to (?:run the '[^']+' command"
    r"|access the '.*' (?:key|channel))",
    re.DOTALL,
)
"""Redis 7.0's ``ACL DRYRUN`` answer when the user may not run the command (a bulk string)."""
WRONGPASS = "WRONGPASS"
"""The error prefix of ``AUTH`` for a disabled user (or a wrong password)."""


class CacheAclError(RuntimeError):
    """The server could not be run, or answered in a form this client does not read."""


class RedisMissingError(CacheAclError):
    """``redis-server`` is not on PATH."""


class AccessStringError(CacheAclError):
    """An access string ElastiCache or the server would refuse."""


@dataclass(frozen=True)
class Request:
    """One command, as a user would send it: ``Request("a", ("GET", "a:1"))``."""

    user: str
    command: tuple[str, ...]
    """The command name and its arguments, as sent on the wire."""


@dataclass(frozen=True)
class Decision:
    """The server's answer to one :class:`Request`."""

    request: Request
    allowed: bool
    reason: str
    """The server's reply: ``OK``, or the denial naming the command, key or channel."""


class _ServerError(str):
    """A RESP error reply (``-ERR ...``), kept apart from a bulk string with the same text."""


Reply = str | int | None | _ServerError | list["Reply"]


def redis_server() -> str:
    """The path of ``redis-server``, or :class:`RedisMissingError` naming ``make redis``."""
    path = shutil.which(SERVER)
    if path is None:
        raise RedisMissingError(
            f"{SERVER} is not on PATH: `{MAKE_TARGET}` installs it (Debian's redis-server, "
            "Redis 7.0, which evaluates the ElastiCache access strings)"
        )
    return path


def access_string_tokens(user: str, access_string: str) -> list[str]:
    """The ACL rules of an access string, refusing the password rules ElastiCache never carries.

    ElastiCache sets passwords with CreateUser's ``Passwords``/``NoPasswordRequired``, never in
    the access string; the server would accept them, so they are refused here.
    """
    tokens = access_string.split()
    refused = [t for t in tokens if t.lower() in PASSWORD_WORDS or t.startswith(PASSWORD_PREFIXES)]
    if refused:
        raise AccessStringError(
            f"user {user!r}: access string {' '.join(map(_redacted, tokens))!r} carries the "
            f"password rule(s) {', '.join(map(_redacted, refused))}: ElastiCache access "
            "strings carry no passwords (CreateUser sets them)"
        )
    return tokens


def _redacted(token: str) -> str:
    """A rule as it may appear in a message: a password rule shows its operator only."""
    return f"{token[0]}..." if token.startswith(PASSWORD_PREFIXES) else token


def evaluate(users: Mapping[str, str], requests: Iterable[Request]) -> list[Decision]:
    """Each request decided by a throwaway ``redis-server`` holding ``users`` (name → access
    string), in the order given.

    Raises :class:`RedisMissingError` without the server, :class:`AccessStringError` for an
    access string with a password rule or one the server refuses (naming the user, the string
    and the server's message), and :class:`CacheAclError` for any reply that is neither ``OK``
    nor a permission denial (an unknown command or user, a wrong number of arguments, ...).
    """
    batch = list(requests)
    tokens = {user: access_string_tokens(user, rules) for user, rules in users.items()}
    with _server() as path, _Connection(path) as admin, _Connection(path) as login:
        _take_over(admin, users)
        replies = admin.pipeline(
            [["ACL", "SETUSER", user, "reset", *rules, "nopass"] for user, rules in tokens.items()]
        )
        for user, reply in zip(tokens, replies, strict=True):
            if reply != "OK":
                raise AccessStringError(
                    f"user {user!r}: the server refused the access string {users[user]!r}: {reply}"
                )
        disabled = _disabled(login, list(users))
        replies = admin.pipeline([["ACL", "DRYRUN", r.user, *r.command] for r in batch])
        return [_decision(r, reply, disabled) for r, reply in zip(batch, replies, strict=True)]


def _take_over(admin: _Connection, users: Mapping[str, str]) -> None:
    """Log the admin connection in as a fresh all-powerful user, so that the access strings may
    redefine ``default`` (ElastiCache's default user) without locking this client out."""
    name = f"cacheacl-admin-{secrets.token_hex(8)}"
    if name in users:  # pragma: no cover - 64 random bits
        raise CacheAclError(f"user name {name!r} clashes with the evaluator's own")
    password = secrets.token_hex(16)
    replies = admin.pipeline(
        [["ACL", "SETUSER", name, "reset", "on", f">{password}", "~*", "&*", "+@all"],
         ["AUTH", name, password]]
    )  # fmt: skip
    if replies != ["OK", "OK"]:
        raise CacheAclError(f"could not set up the evaluator's own user: {replies!r}")


def _disabled(login: _Connection, users: Sequence[str]) -> dict[str, str]:
    """Users the server refuses to authenticate (``off``), with its reply."""
    refused: dict[str, str] = {}
    for user, reply in zip(
        users, login.pipeline([["AUTH", user, "any"] for user in users]), strict=True
    ):
        if isinstance(reply, _ServerError) and reply.startswith(WRONGPASS):
            refused[user] = str(reply)
        elif reply != "OK":
            raise CacheAclError(f"unexpected reply to AUTH for user {user!r}: {reply!r}")
    return refused


def _decision(request: Request, reply: Reply, disabled: Mapping[str, str]) -> Decision:
    if reply == "OK" and not isinstance(reply, _ServerError):
        if request.user in disabled:
            return Decision(request, allowed=False, reason=disabled[request.user])
        return Decision(request, allowed=True, reason="OK")
    if isinstance(reply, str) and not isinstance(reply, _ServerError) and DENIAL.fullmatch(reply):
        return Decision(request, allowed=False, reason=reply)
    raise CacheAclError(
        f"unexpected reply to ACL DRYRUN for user {request.user!r}, command "
        f"{list(request.command)!r}: {reply!r}"
    )


@contextmanager
def _server() -> Iterator[Path]:
    """A ``redis-server`` on a unix socket in a temporary directory, stopped on exit."""
    binary = redis_server()
    with tempfile.TemporaryDirectory(prefix="cacheacl-") as directory:
        path = Path(directory) / "redis.sock"
        log = Path(directory) / "redis.log"
        # Options only (no configuration file): no TCP port, no RDB or AOF, nothing written
        # outside the temporary directory. The server acts on SIGTERM in its cron, `hz` times a
        # second: 100 (default 10) stops it in ~10 ms instead of ~100.
        command = [binary, "--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700",
                   "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", directory,
                   "--logfile", str(log), "--databases", "1", "--hz", "100"]  # fmt: skip
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise CacheAclError(f"could not start {binary}: {exc}") from None
        try:
            _wait_until_ready(process, path, log)
            yield path
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(process: subprocess.Popen[bytes], path: Path, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CacheAclError(f"{SERVER} exited with status {process.returncode}: {_tail(log)}")
        if path.exists():
            try:
                with _Connection(path) as probe:
                    if probe.pipeline([["PING"]]) == ["PONG"]:
                        return
            except OSError:
                pass
        time.sleep(0.01)
    raise CacheAclError(f"{SERVER} did not answer within {START_TIMEOUT}s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-LOG_TAIL:]
    except OSError:
        return "(no log)"


class _Connection:
    """A minimal RESP2 client over a unix socket: pipelined commands, replies in order."""

    def __init__(self, path: Path) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(REPLY_TIMEOUT)
        try:
            self._socket.connect(str(path))
        except OSError:
            self._socket.close()
            raise
        self._reader: BinaryIO = self._socket.makefile("rb")

    def __enter__(self) -> _Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self._reader.close()
        self._socket.close()

    def pipeline(self, commands: Sequence[Sequence[str]]) -> list[Reply]:
        """Send every command at once, then read one reply per command."""
        self._socket.sendall(b"".join(_encode(command) for command in commands))
        return [self._read() for _ in commands]

    def _read(self) -> Reply:
        line = self._reader.readline()
        if not line.endswith(b"\r\n"):
            raise CacheAclError(f"the server closed the connection mid-reply: {line!r}")
        kind, body = line[:1], line[1:-2].decode("utf-8", errors="replace")
        if kind == b"+":
            return body
        if kind == b"-":
            return _ServerError(body)
        if kind == b":":
            return int(body)
        if kind == b"$":
            length = int(body)
            if length < 0:
                return None
            data = self._reader.read(length + 2)
            return data[:-2].decode("utf-8", errors="replace")
        if kind == b"*":
            length = int(body)
            return None if length < 0 else [self._read() for _ in range(length)]
        raise CacheAclError(f"unexpected RESP reply: {line!r}")


def _encode(command: Sequence[str]) -> bytes:
    parts = [b"*%d\r\n" % len(command)]
    for argument in command:
        data = argument.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)
