"""Load test: a normal collector's latency with and without a hostile mix, on a real server.

Starts `arrears serve` (uvicorn, one process) on loopback over a fresh demo database, then runs
two phases of equal length: a collector working their worklist alone, and the same collector
while an attacker sends, at a fixed 5 requests per second, a rotating mix of the attacks of the
security review — a fragment bomb, an alias bomb of nested `cases(first: 100)`, an oversized
body, and a flood of forged tokens. Prints the collector's p50/p99 in each phase, their ratio,
the server's peak memory (RSS) in each phase and what the attacker got back.

    python benchmarks/bench_hostile.py [--seconds 20] [--cases 1000] [--body-mb 5]

Set ARREARS_BENCH_DATABASE_URL to run the server on PostgreSQL (an empty database). Exits 1 when
the collector's p99 under attack is more than twice its quiet value or the server's memory under
attack grows by more than --max-growth-mb.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-that-is-long-enough-for-hs256"
AUDIT_SECRET = "bench-audit-secret-that-is-long-enough-too"
HOSTILE_RATE = 5.0  # requests per second, fixed

WORKLIST = """
query Worklist {
  cases(first: 20, filter: {assigneeLogin: "collector1", status: [OPEN]}) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id reference bucket classification daysPastDue
      totalOutstanding { amount currency }
      borrower { fullName phone } debts { productType outstanding { amount } } } }
  }
}
"""


def fragment_bomb(levels: int = 30) -> str:
    """Each fragment spreads the next twice: 2^levels fields if walked naively (~1 KB)."""
    parts = []
    for i in range(levels):
        parts.append(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}")
    parts.append(f"fragment F{levels} on Query {{ viewer {{ login }} }}")
    return "query Bomb { ...F0 }\n" + "\n".join(parts)


def alias_bomb(aliases: int = 30) -> str:
    """Thirty aliases of a nested page of 100 cases with everything under it."""
    page = (
        "cases(first: 100) { edges { node { id reference borrower { fullName phone nationalId } "
        "debts { accountNumber instalments { dueDate amountDue { amount } } } "
        "assignee { login } agency { name } } } }"
    )
    return "query Aliases { " + " ".join(f"a{i}: {page}" for i in range(aliases)) + " }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """The process's resident memory, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"arrears {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


async def sample_memory(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid))
        await asyncio.sleep(0.1)


async def collector(client: httpx.AsyncClient, token: str, seconds: float) -> list[float]:
    """A collector reloading their worklist back to back; returns latencies in ms."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            response = await client.post("/graphql", json={"query": WORKLIST}, headers=headers)
        except httpx.HTTPError as exc:  # a starved server: counted at the time it took
            latencies.append((time.perf_counter() - started) * 1000)
            print(f"the collector's request failed: {type(exc).__name__}", file=sys.stderr)
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        body = response.json()
        if response.status_code != 200 or "errors" in body:
            raise SystemExit(f"the collector's request failed: {response.status_code} {body}")
    return latencies


async def attacker(
    client: httpx.AsyncClient, token: str, seconds: float, body_mb: int
) -> Counter[str]:
    """Sends the hostile mix at a fixed rate, without waiting for answers (open loop)."""
    outcomes: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    oversized = b'{"query": "{ viewer { login } }", "pad": "' + b"x" * (body_mb << 20) + b'"}'
    attacks: list[tuple[str, dict[str, Any]]] = [
        ("fragment bomb", {"json": {"query": fragment_bomb()}, "headers": headers}),
        ("alias bomb", {"json": {"query": alias_bomb()}, "headers": headers}),
        (
            "oversized body",
            {
                "content": oversized,
                "headers": {**headers, "Content-Type": "application/json"},
            },
        ),
        (
            "forged token",
            {
                "json": {"query": "{ viewer { login } }"},
                "headers": {"Authorization": "Bearer x.y.z"},
            },
        ),
    ]

    async def send(name: str, kwargs: dict[str, Any]) -> None:
        try:
            response = await client.post("/graphql", **kwargs)
            code = ""
            if response.headers.get("content-type", "").startswith("application/json"):
                errors = response.json().get("errors") or [{}]
                code = errors[0].get("extensions", {}).get("code", "")
            outcomes[f"{name}: {response.status_code} {code}".strip()] += 1
        except httpx.HTTPError as exc:
            outcomes[f"{name}: {type(exc).__name__}"] += 1

    tasks = []
    started = time.perf_counter()
    n = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        due = n / HOSTILE_RATE
        if elapsed < due:
            await asyncio.sleep(due - elapsed)
            continue
        name, kwargs = attacks[n % len(attacks)]
        tasks.append(asyncio.create_task(send(name, kwargs)))
        n += 1
    await asyncio.gather(*tasks)
    outcomes["(sent)"] = n
    return outcomes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(base: str, pid: int, args: argparse.Namespace, env: dict[str, str]) -> int:
    collector_token = cli(env, "token", "collector1")
    attacker_token = cli(env, "token", "collector2")
    limits = httpx.Limits(max_connections=200)
    async with (
        httpx.AsyncClient(base_url=base, timeout=30) as normal,
        httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as hostile,
    ):
        await collector(normal, collector_token, 2)  # warm up
        phases: dict[str, tuple[list[float], float]] = {}
        outcomes: Counter[str] = Counter()
        for phase in ("quiet", "attack"):
            peak = [rss_mb(pid)]
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_memory(pid, peak, stop))
            work = [collector(normal, collector_token, args.seconds)]
            if phase == "attack":
                attack = asyncio.create_task(
                    attacker(hostile, attacker_token, args.seconds, args.body_mb)
                )
            latencies = (await asyncio.gather(*work))[0]
            if phase == "attack":
                outcomes = await attack
            stop.set()
            await sampler
            phases[phase] = (latencies, peak[0])
    quiet, attack_ = phases["quiet"], phases["attack"]
    print(f"{'phase':<8} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'peak RSS MB':>12}")
    for name, (lat, mem) in phases.items():
        print(
            f"{name:<8} {len(lat):>8} {statistics.median(lat):>8.1f} "
            f"{percentile(lat, 0.99):>8.1f} {mem:>12.1f}"
        )
    ratio = percentile(attack_[0], 0.99) / percentile(quiet[0], 0.99)
    growth = attack_[1] - quiet[1]
    print(f"p99 under attack / quiet p99: {ratio:.2f} (goal: at most 2.00)")
    print(f"memory growth under attack: {growth:+.1f} MB (goal: at most {args.max_growth_mb} MB)")
    print(f"hostile requests at {HOSTILE_RATE:g}/s; answers:")
    for key, count in sorted(outcomes.items()):
        print(f"  {key:<50} {count:>5}")
    return 0 if ratio <= 2.0 and growth <= args.max_growth_mb else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--cases", type=int, default=1000, help="demo cases to seed")
    parser.add_argument("--body-mb", type=int, default=5, help="size of the oversized body")
    parser.add_argument("--max-growth-mb", type=float, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get(
            "ARREARS_BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        )
        env = {
            **os.environ,
            "ARREARS_DATABASE_URL": url,
            "ARREARS_ENV": "production",
            "ARREARS_SECRET_KEY": SECRET,
            "ARREARS_AUDIT_SECRET": AUDIT_SECRET,
            "ARREARS_LOG_LEVEL": "WARNING",
        }
        cli(env, "demo", "--cases", str(args.cases))
        port = free_port()
        log = (Path(tmp) / "server.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((Path(tmp) / "server.log").read_text(errors="replace"))
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            status = asyncio.run(run(base, server.pid, args, env))
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:  # stuck in a CPU-bound request
                server.kill()
                server.wait(timeout=10)
            log.close()
    raise SystemExit(status)


if __name__ == "__main__":
    main()
