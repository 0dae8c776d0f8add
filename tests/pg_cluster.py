"""Throwaway PostgreSQL clusters for tests that need a server of their own (initdb + pg_ctl on a
spare port, never the shared server): the streaming-replica test and the health-check test."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path


def spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """pg_ctl/initdb/pg_basebackup as the postgres OS user when we are root (PostgreSQL refuses root)."""

    def __init__(self, bin_dir: Path, root: Path):
        self.bin_dir = bin_dir
        self.root = root
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.started: list[Path] = []

    def run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin_dir / tool), *args], check=True, capture_output=True, timeout=120
        )

    def start(self, data: Path, port: int) -> None:
        options = f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self.run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / f"{port}.log"), "-w", "start")
        self.started.append(data)

    def stop_all(self) -> None:
        for data in reversed(self.started):
            subprocess.run(
                [*self.as_postgres, str(self.bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
