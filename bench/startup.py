"""Start-up time and memory of `tracemark serve` on an empty SQLite database.

Targets (issue 2): /api/public/health answers within 2 s of process start; RSS after start
below 150 MB. The machine is shared and noisy, so the same run also measures a baseline: a
bare `python -c "import fastapi, sqlalchemy"` process, and prints the ratio to it.

Usage: python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn may fork workers)."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in children.split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def one_start() -> tuple[float, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEMARK_")}
        started = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tracemark",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                data_dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}/api/public/health"
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=1) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.01)
                if time.perf_counter() - started > 30:
                    raise RuntimeError("server did not answer within 30 s")
            elapsed = time.perf_counter() - started
            time.sleep(0.5)
            memory = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return elapsed, memory


def baseline() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import fastapi, sqlalchemy, uvicorn"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times, memories, bases = [], [], []
    for _ in range(args.runs):
        bases.append(baseline())
        elapsed, memory = one_start()
        times.append(elapsed)
        memories.append(memory)
    t = statistics.median(times)
    b = statistics.median(bases)
    m = max(memories)
    print(f"time to first /health answer: median {t:.2f} s over {args.runs} runs (target < 2 s)")
    print(f"baseline `import fastapi, sqlalchemy, uvicorn`: median {b:.2f} s; ratio {t / b:.1f}x")
    print(f"RSS after start: max {m:.0f} MB (target < 150 MB)")
    ok = t < 2.0 and m < 150
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
