"""`protobrain demo listen` writes its plot where -o says (default: the current folder),
never beside the WAV it reads (a dataset folder is not the place for it)."""

from contextlib import contextmanager

import numpy as np
import pytest
from click.testing import CliRunner

from protobrain.app.demo import Listened, write_wav
from protobrain.cli import bundle as cli_bundle
from protobrain.cli.main import main


class FakeBundle:
    """The bundle's host side as the listen command uses it, without a device."""

    spec = {"speech": {"sample_rate": 8000}}
    info = {"board": "real_board", "clock_hz": 1}
    counter = object()

    def listen(self, audio, progress=None):
        times = np.arange(4) * 0.25
        scores = np.tile([0.1, 0.1, 0.8], (4, 1))
        return Listened(times, scores, [], ["silence", "unknown", "yes"], 1234, "instructions",
                        [(0.5, "yes", 0.8)])


@pytest.fixture
def fake_device(monkeypatch):
    @contextmanager
    def open_bundle(bundle_dir, port):
        yield FakeBundle()

    monkeypatch.setattr(cli_bundle.Protobrain, "open", staticmethod(open_bundle))


@pytest.fixture
def dataset_wav(tmp_path):
    data = tmp_path / "dataset" / "yes"
    wav = write_wav(data / "x.wav", (3000 * np.sin(np.arange(8000) / 3)).astype(np.int16), 8000)
    return wav


def test_listen_writes_its_plot_in_the_current_folder_by_default(fake_device, dataset_wav, tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    r = CliRunner().invoke(main, ["demo", "listen", str(dataset_wav)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in dataset_wav.parent.iterdir()) == ["x.wav"], "nothing added to the dataset"
    assert (here / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote x.png" in r.output


def test_listen_writes_its_plot_in_the_output_folder(fake_device, dataset_wav, tmp_path):
    out = tmp_path / "plots"
    r = CliRunner().invoke(main, ["demo", "listen", str(dataset_wav), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in dataset_wav.parent.iterdir()) == ["x.wav"]
    assert (out / "x.png").is_file()
