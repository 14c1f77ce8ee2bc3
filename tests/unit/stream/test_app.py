"""The Faust app keeps its state under newsetl's data dir, not in the working directory."""

from pathlib import Path

from streams.settings import Settings
from streams.stream.app import create_app


def test_faust_datadir_is_under_the_data_dir(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "state"))
    assert Path(app.conf.datadir) == tmp_path / "state" / "faust"
