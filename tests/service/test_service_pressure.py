"""CPU pressure: the share of wall time some task waited for a CPU, from the kernel's counter."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker import pressure
from worker.pressure import CpuPressure

PSI = (
    "some avg10=1.00 avg60=2.00 avg300=3.00 total={some}\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
)


class Kernel:
    """A pressure file and a clock that the test advances together."""

    def __init__(self, path: Path):
        self.path, self.now, self.stalled = path, 100.0, 5_000_000
        self.write()

    def write(self) -> None:
        self.path.write_text(PSI.format(some=self.stalled))

    def advance(self, seconds: float, stalled_share: float) -> None:
        self.now += seconds
        self.stalled += round(seconds * stalled_share * 1e6)
        self.write()


def test_the_share_of_stalled_time_is_read_and_smoothed(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path / "cpu")
    reading = CpuPressure(kernel.path, smoothing=1.0, clock=lambda: kernel.now)
    kernel.advance(10.0, 0.8)  # a long spell: the reading is (almost) all new
    assert reading() == pytest.approx(0.8, abs=1e-3)
    kernel.advance(0.1, 0.0)  # a tenth of a second with no stall moves it a little
    assert reading() == pytest.approx(0.8 * 0.9048, abs=1e-3)  # e^(-0.1)
    for _ in range(50):  # five quiet seconds bring it down
        kernel.advance(0.1, 0.0)
        level = reading()
    assert level < 0.01


def test_a_counter_that_goes_past_one_cpu_is_capped_at_all_the_time(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path / "cpu")
    reading = CpuPressure(kernel.path, smoothing=0.001, clock=lambda: kernel.now)
    kernel.advance(1.0, 1.5)
    assert reading() == 1.0


def test_without_a_pressure_file_there_is_no_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    garbled = tmp_path / "garbled"
    garbled.write_text("nothing here\n")
    monkeypatch.setattr(pressure, "SOURCES", (tmp_path / "missing", garbled))
    assert CpuPressure.find() is None
    monkeypatch.setattr(pressure, "SOURCES", (tmp_path / "missing", Kernel(tmp_path / "cpu").path))
    found = CpuPressure.find()
    assert found is not None and found.source == tmp_path / "cpu"
