"""Start a policy pack as a child process and learn its gRPC port; always stop it again.

A pack prints its port as the first line of stdout once its server listens. Both pipes are
drained by reader threads for the whole life of the process: a pack that prints (a policy's
``console.log``, the SDK's logging) must never block on a full pipe, and the tail of its
stderr is what an error message shows when it dies.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

from blueprint.check.errors import PackError
from blueprint.check.pack import PolicyPackDir

ENGINE_ADDRESS = "127.0.0.1:0"
"""What the pack gets as the engine address: there is no engine, and packs never dial it."""
STARTUP_TIMEOUT = 60.0
STDERR_TAIL = 8000
STOP_GRACE = 5.0
DECODE_ONCE = "FEATURE_PLATFORM_PACK_DECODE_ONCE"
"""Our pack's faster servicer (policies/rules/_analyzer.py), proven to answer as the SDK's;
other packs ignore it."""


class PackProcess:
    """A running pack: its port once ready, its stderr so far, and a clean stop."""

    def __init__(self, pack: PolicyPackDir, env: Mapping[str, str]) -> None:
        self.pack = pack
        self.argv = pack.command(ENGINE_ADDRESS)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr = bytearray()
        self._lock = threading.Lock()
        try:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=pack.directory,
                env={**env, DECODE_ONCE: "1"},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise PackError(f"could not start policy pack {pack.directory}: {exc}") from None
        assert self.popen.stdout is not None and self.popen.stderr is not None
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(self.popen.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self.popen.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self, stream: IO[bytes]) -> None:
        for raw in stream:
            self._lines.put(raw.decode(errors="replace").strip())
        self._lines.put(None)

    def _read_stderr(self, stream: IO[bytes]) -> None:
        while chunk := stream.read1(4096):  # type: ignore[attr-defined]
            with self._lock:
                self._stderr += chunk
                del self._stderr[:-STDERR_TAIL]

    def stderr(self) -> str:
        """The last few kilobytes the pack wrote to stderr."""
        with self._lock:
            return bytes(self._stderr).decode(errors="replace").strip()

    def describe_exit(self) -> str:
        """Why the pack is gone (or that it is not), with its stderr, for error messages."""
        code = self.popen.poll()
        state = "is still running" if code is None else f"exited with status {code}"
        stderr = self.stderr()
        return f"{state}; its stderr:\n{stderr}" if stderr else f"{state} (no stderr output)"

    def address(self, timeout: float = STARTUP_TIMEOUT) -> str:
        """``127.0.0.1:<port>`` once the pack listens; :class:`PackError` if it never does."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise PackError(
                    f"policy pack {self.pack.directory} did not print its port within "
                    f"{timeout:.0f} s; it {self.describe_exit()}"
                ) from None
            if line is None:
                self.settle()
                raise PackError(
                    f"policy pack {self.pack.directory} stopped before it was ready: "
                    f"it {self.describe_exit()}"
                )
            if line.isdigit():
                return f"127.0.0.1:{line}"
            if line:
                raise PackError(
                    f"policy pack {self.pack.directory} printed {line!r} where its port was "
                    f"expected; it {self.describe_exit()}"
                )

    def settle(self, timeout: float = STOP_GRACE) -> None:
        """Let an exiting pack finish, so its status and last stderr lines are known."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return
        self._readers[1].join(timeout=1.0)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        for reader in self._readers:
            reader.join(timeout=1.0)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()


def pack_environment(
    pack: PolicyPackDir,
    *,
    project: str,
    stack: str,
    organization: str,
    config: Mapping[str, str],
    dry_run: bool,
) -> dict[str, str]:
    """The process environment the CLI gives a pack: ours, plus config and stack identity."""
    identity = {
        "ORGANIZATION": organization,
        "PROJECT": project,
        "STACK": stack,
        "DRY_RUN": "true" if dry_run else "false",
    }
    env = dict(os.environ)
    env["PULUMI_CONFIG"] = json.dumps(dict(config))
    env.update({f"PULUMI_{key}": value for key, value in identity.items()})
    if pack.runtime == "nodejs":
        # The Node.js SDK reads only the PULUMI_NODEJS_* variants; the CLI sets both.
        env.update({f"PULUMI_NODEJS_{key}": value for key, value in identity.items()})
    return env


@contextmanager
def launched(pack: PolicyPackDir, env: Mapping[str, str]) -> Iterator[PackProcess]:
    """Start ``pack``; it is stopped when the block ends, however it ends."""
    process = PackProcess(pack, env)
    try:
        yield process
    finally:
        process.stop()
