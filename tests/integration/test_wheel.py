"""The built wheel works on its own: its resources ship as package data and nothing reads the checkout.

A wheel is built from a clean copy of the sources (what the Dockerfile copies), installed with
``--no-deps`` into a fresh virtualenv whose only view of the dependencies is a ``.pth`` line naming
this interpreter's site-packages (plain path lines do not run nested ``.pth`` files, so the
checkout's editable install stays invisible). From a directory outside the repository the installed
``newsetl`` then analyzes a seed file and runs ``up``, ``status`` and ``down`` on free ports with a
fresh data directory (the Kafka jars come from the repository's cache, as for the other
integration tests).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, stack_settings

pytestmark = pytest.mark.timeout(300)

# what deploy/Dockerfile copies before `pip install .`
SOURCES = ["pyproject.toml", "README.md", "streams", "schemas"]
COMMAND_TIMEOUT = 180.0

PROBE = """
import json, streams
from streams.dashboard.server import STATIC_DIR
from streams.local import kafka
from streams.store.clickhouse import migration_files
print(json.dumps({
    "streams": streams.__file__,
    "pom": kafka.resource(kafka.POM).is_file(),
    "properties": kafka.resource(kafka.SERVER_PROPERTIES).is_file(),
    "migrations": [name for _, name, _ in migration_files()],
    "static": sorted(p.relative_to(STATIC_DIR).as_posix() for p in STATIC_DIR.rglob("*") if p.is_file()),
}))
"""


def _run(cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=COMMAND_TIMEOUT,
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"{proc.args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _clean_env() -> dict[str, str]:
    """This environment without anything that would point a child at the checkout or its settings."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not key.startswith("NEWSETL_")
    }


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the newsetl wheel installed and the running interpreter's packages visible."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, src / name)
    dist = root / "dist"
    _ok(_run([sys.executable, "-m", "pip", "wheel", src, "--no-deps", "-q", "-w", dist], cwd=root))
    (wheel,) = dist.glob("newsetl-*.whl")

    env_dir = root / "venv"
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", env_dir], cwd=root))
    python = env_dir / "bin" / "python"
    # installed before the .pth exists, so pip sees no newsetl outside the fresh venv to replace
    _ok(_run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel], cwd=root))
    site = Path(_ok(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root)).strip())
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "newsetl_test_deps.pth").write_text("".join(f"{path}\n" for path in deps))
    return env_dir


def test_installed_wheel_carries_its_resources(venv: Path, tmp_path: Path) -> None:
    out = _ok(_run([venv / "bin" / "python", "-c", PROBE], cwd=tmp_path, env=_clean_env()))
    found = json.loads(out)
    assert Path(found["streams"]).resolve().is_relative_to(venv.resolve()), found["streams"]
    assert found["pom"] and found["properties"]
    assert found["migrations"] == sorted(path.name for path in (REPO / "schemas" / "clickhouse").glob("*.sql"))
    static = REPO / "streams" / "dashboard" / "static"
    assert found["static"] == sorted(p.relative_to(static).as_posix() for p in static.rglob("*") if p.is_file())
    assert "vendor/echarts.min.js" in found["static"] and "vendor/echarts.LICENSE" in found["static"]


def test_installed_newsetl_analyze(venv: Path, tmp_path: Path) -> None:
    seed = sorted((REPO / "seeds").glob("*.txt"))[0]
    article = tmp_path / seed.name
    shutil.copy2(seed, article)
    out = _ok(_run([venv / "bin" / "newsetl", "analyze", article.name, "--format", "json"], cwd=tmp_path, env=_clean_env()))
    (line,) = out.strip().splitlines()
    result = json.loads(line)
    assert result["doc"]["doc_id"] and result["doc"]["regions"]
    assert result["metrics"], "the seed's figures were not found: are the rules packaged?"


def test_installed_newsetl_up_status_down(venv: Path, tmp_path: Path) -> None:
    newsetl = venv / "bin" / "newsetl"
    work = tmp_path / "work"
    work.mkdir()
    for attempt in range(3):
        settings = stack_settings(tmp_path / "data")
        env = _clean_env() | settings.to_env() | {"COLUMNS": "200"}
        try:
            up = _run([newsetl, "up"], cwd=work, env=env)
            if up.returncode != 0 and "already in use" in up.stdout + up.stderr and attempt < 2:
                continue  # another process took a free port meanwhile: try others
            _ok(up)
            status = _ok(_run([newsetl, "status"], cwd=work, env=env))
            assert "kafka" in status and "clickhouse" in status
            assert status.count("healthy") == 2, status
            _ok(_run([newsetl, "down"], cwd=work, env=env))
            after = _run([newsetl, "status"], cwd=work, env=env)
            assert after.returncode == 1, after.stdout + after.stderr
            break
        finally:
            _run([newsetl, "down"], cwd=work, env=env)
    assert not list(work.iterdir()), "newsetl wrote into its working directory instead of the data dir"
    assert (tmp_path / "data" / "kafka" / "server.properties").is_file()
