"""``newsetl bench compare --against REV``: the analysis of the working tree against a git revision,
timed in turn on the same documents, so that a change of a few percent can be seen at all.

Separate runs of the same code on this machine vary by ±15–20 % within minutes (CPU steal, shared
cores), far more than most single optimizations gain. Here two processes — one importing the
package of ``REV`` (extracted with ``git archive`` into a temporary folder), one the working tree's
— each load the pipeline once and then analyse the same chunks of the benchmark corpus
(:mod:`streams.bench.corpus`) one after the other, never at the same time, the order swapped at
every chunk; drifts of the machine's speed fall on both alike. The result is each side's docs/s
(CPU time of the analysing process) and ``speedup`` = REV's time / the working tree's.

Only ``streams.settings.Settings`` and ``streams.stream.analysis.get_pipeline`` are used on either
side, so any revision that has those can be compared.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any

from streams.bench.corpus import bench_corpus
from streams.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
#: documents analysed by one side before the other takes its turn
CHUNK = 10

# Runs in each child: texts on the first line, then "start end" per turn; answers the CPU seconds
# the turn took. Written against the two names every revision has (see the module doc).
_RUNNER = """
import json, sys, time
import streams
from streams.settings import Settings
from streams.stream.analysis import get_pipeline
texts = json.loads(sys.stdin.readline())
pipeline = get_pipeline(Settings())
for text in texts[:50]:
    pipeline.analyze(text)
print("ready", streams.__file__, flush=True)
for line in sys.stdin:
    start, end = map(int, line.split())
    began = time.process_time()
    for text in texts[start:end]:
        pipeline.analyze(text)
    print(time.process_time() - began, flush=True)
"""


def extract_revision(rev: str, into: Path, repo: Path = ROOT) -> Path:
    """The files of ``rev`` of the git repository ``repo`` under ``into``; UserError when it is not one."""
    try:
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev],
                                 capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise UserError("bench compare needs git") from None
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UserError(f"cannot read revision {rev!r}: {message[-1] if message else 'git archive failed'}") from None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # (the extraction filter exists from Python 3.11.4 on; the archive is the project's own)
        tar.extractall(into, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return into


class _Side:
    """One analysing child process with the package found on ``path``."""

    def __init__(self, path: Path, texts: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(path)}
        self.proc = subprocess.Popen([sys.executable, "-c", _RUNNER], cwd=path, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.seconds = 0.0
        self._send(json.dumps(texts, ensure_ascii=False))
        ready, _, package = self._read().partition(" ")
        if ready != "ready":
            raise UserError(f"the analysis under {path} did not start: {self._error()}")
        if not Path(package).resolve().is_relative_to(path.resolve()):
            self.close()
            raise UserError(f"the analysis meant to run from {path} imported {package}")

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def _error(self) -> str:
        self.proc.kill()
        stderr: IO[str] | None = self.proc.stderr
        lines = (stderr.read() if stderr else "").strip().splitlines()
        return lines[-1] if lines else f"exit code {self.proc.wait()}"

    def turn(self, start: int, end: int) -> None:
        self._send(f"{start} {end}")
        answer = self._read()
        try:
            self.seconds += float(answer)
        except ValueError:
            raise UserError(f"the analysis failed: {self._error()}") from None

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def compare_analysis(rev: str = "HEAD", docs: int = 600, rounds: int = 3, chunk: int = CHUNK,
                     tree: Path = ROOT) -> dict[str, Any]:
    """docs/s of ``Pipeline.analyze`` at ``rev`` and in ``tree`` (the working tree), in turn on the
    same ``docs`` corpus documents, ``rounds`` passes; JSON-ready."""
    texts = [doc["text"] for doc in bench_corpus(docs)]
    with tempfile.TemporaryDirectory(prefix="newsetl-compare-") as folder:
        base_tree = extract_revision(rev, Path(folder), repo=tree)
        sides: list[_Side] = []
        try:
            sides.append(_Side(base_tree, texts))
            sides.append(_Side(tree, texts))
            base, work = sides
            turn = 0
            for _ in range(rounds):
                for start in range(0, len(texts), chunk):
                    first, second = (base, work) if turn % 2 == 0 else (work, base)
                    first.turn(start, start + chunk)
                    second.turn(start, start + chunk)
                    turn += 1
        finally:
            for side in sides:
                side.close()
    analysed = len(texts) * rounds
    return {
        "against": rev,
        "documents": len(texts),
        "rounds": rounds,
        "base_docs_s": round(analysed / base.seconds, 1) if base.seconds else None,
        "work_docs_s": round(analysed / work.seconds, 1) if work.seconds else None,
        "speedup": round(base.seconds / work.seconds, 3) if work.seconds else None,
    }
