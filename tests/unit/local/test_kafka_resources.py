"""The broker's pom and properties are package data, and Maven never runs beside the packaged pom."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import streams.local
from streams.local import kafka

PACKAGE = Path(streams.local.__file__).resolve().parent

FAKE_MVN = """#!{python}
# records how it was called, then does what copy-dependencies does: jars into -Dlibs.dir, target/ in the basedir
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
pom = Path(args[args.index("-f") + 1])
libs = Path(next(a for a in args if a.startswith("-Dlibs.dir=")).split("=", 1)[1])
(libs / "kafka_2.13-3.9.1.jar").write_bytes(b"")
(libs / "kafka-tools-3.9.1.jar").write_bytes(b"")
(pom.parent / "target").mkdir()
Path({record!r}).write_text(json.dumps({{"pom": str(pom), "text": pom.read_text(), "cwd": os.getcwd()}}))
"""


def test_templates_are_package_files() -> None:
    for name in (kafka.POM, kafka.SERVER_PROPERTIES):
        resource = kafka.resource(name)
        assert resource.is_file()
        assert Path(str(resource)).resolve().parent == PACKAGE / "broker"
    assert "kafka_${scala.binary.version}" in kafka.resource(kafka.POM).read_text(encoding="utf-8")


def test_fetch_libs_runs_maven_on_a_copy_of_the_pom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "mvn.json"
    mvn = bin_dir / "mvn"
    mvn.write_text(FAKE_MVN.format(python=sys.executable, record=str(record)))
    mvn.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    libs = tmp_path / "libs"

    assert kafka.fetch_libs(libs) == libs
    called = json.loads(record.read_text())
    pom = Path(called["pom"])
    assert called["text"] == kafka.resource(kafka.POM).read_text(encoding="utf-8")
    assert PACKAGE not in pom.parents and Path(called["cwd"]) == pom.parent
    assert not pom.parent.exists(), "the work directory with Maven's target/ is left behind"
    assert not (PACKAGE / "broker" / "target").exists()
    assert kafka.libs_present(libs) and (libs / kafka.MARKER).read_text() == "3.9.1"
