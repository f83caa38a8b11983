"""The outbox: ids go out after their commit, alone when idle, together under load, and
whatever the broker refuses is handed back for the sweeper.

The outbox runs on a ``FakeClock``: time moves only when a test advances it, and
``settle`` waits until the outbox's thread has acted on the present, so nothing here
depends on how fast the machine runs.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from service.config import load_settings
from worker.app import GRADE_TASK, QUEUE, make_celery
from worker.outbox import Outbox

START = 1000.0


class FakeClock:
    """The outbox's ``Clock``, moved by the test; its waits end on notifications only."""

    def __init__(self) -> None:
        self.t = START
        self.condition: threading.Condition | None = None
        self.parked = False  # the outbox's thread waits, having looked at the present

    def now(self) -> float:
        return self.t

    def wait(
        self, condition: threading.Condition, predicate: Callable[[], object], timeout: float
    ) -> bool:
        self.condition = condition
        deadline = self.t + timeout

        def done() -> bool:
            result = bool(predicate()) or self.t >= deadline
            self.parked = not result
            return result

        while not done():
            condition.wait()
        self.parked = False
        return bool(predicate())

    def settle(self) -> None:
        """Return once the outbox's thread has acted on all it was given so far and waits."""
        _until(lambda: self.condition is not None, "the outbox's thread never waited")
        condition = self.condition
        assert condition is not None
        with condition:
            self.parked = False
            condition.notify_all()  # a spurious wake-up: it looks again, and waits

        def parked() -> bool:
            with condition:
                return self.parked

        _until(parked, "the outbox's thread did not settle")

    def advance(self, seconds: float) -> None:
        """Move time on and let the outbox act on it."""
        assert self.condition is not None
        with self.condition:
            self.t += seconds
        self.settle()


def _until(done: Callable[[], bool], failure: str) -> None:
    for _ in range(10_000):  # a bound for a broken outbox, not a timing assumption
        if done():
            return
        time.sleep(0.001)
    raise AssertionError(failure)


class Broker:
    """Records what Celery's send_task was asked to send (the boundary to the broker)."""

    def __init__(self, clock: FakeClock, down: bool = False):
        self.sent: list[tuple[float, list[str]]] = []
        self.clock = clock
        self.down = down
        self.lock = threading.Lock()

    def send_task(self, name: str, args: list[Any], queue: str) -> None:
        assert (name, queue) == (GRADE_TASK, QUEUE)
        if self.down:
            raise ConnectionRefusedError("broker is down")
        with self.lock:
            self.sent.append((self.clock.now(), list(args[0])))

    @property
    def ids(self) -> list[str]:
        return [i for _, batch in self.sent for i in batch]


@pytest.fixture
def celery() -> Any:
    return make_celery(load_settings({"DATABASE_URL": "sqlite:////tmp/unused.sqlite3"}))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def broker(clock: FakeClock) -> Broker:
    return Broker(clock)


def make_outbox(
    celery: Any,
    monkeypatch: pytest.MonkeyPatch,
    broker: Broker,
    interval: float,
    max_batch: int = 100,
    **options: Any,
) -> tuple[Outbox, list[uuid.UUID]]:
    monkeypatch.setattr(celery, "send_task", broker.send_task)
    unsent: list[uuid.UUID] = []

    def remember(ids: Sequence[uuid.UUID]) -> None:
        unsent.extend(ids)

    outbox = Outbox(
        celery, remember, interval=interval, max_batch=max_batch, clock=broker.clock, **options
    )
    return outbox, unsent


def put(outbox: Outbox, clock: FakeClock, ids: Sequence[uuid.UUID]) -> None:
    outbox.notify(ids)
    clock.settle()


def test_an_id_after_a_quiet_spell_goes_out_at_once_and_alone(
    celery: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, broker: Broker
) -> None:
    outbox, unsent = make_outbox(celery, monkeypatch, broker, interval=5.0)
    one = uuid.uuid4()
    put(outbox, clock, [one])
    assert broker.sent == [(START, [str(one)])]  # not held for the 5 s interval
    assert unsent == []
    outbox.close()


def test_under_load_ids_share_tasks_at_most_one_per_interval(
    celery: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, broker: Broker
) -> None:
    interval = 0.05
    outbox, _ = make_outbox(celery, monkeypatch, broker, interval=interval)
    ids = [uuid.uuid4() for _ in range(300)]
    for i in ids:  # 1,000 a second for 0.3 s
        put(outbox, clock, [i])
        clock.advance(0.001)
    flushed = clock.now()
    assert outbox.flush(timeout=5)  # sends the rest at once
    outbox.close()
    assert sorted(broker.ids) == sorted(map(str, ids))  # each once
    assert len(broker.sent) < len(ids) / 5
    paced = [at for at, _ in broker.sent if at < flushed]
    gaps = [b - a for a, b in itertools.pairwise(paced)]
    assert len(gaps) >= 3 and min(gaps) >= interval - 1e-9


def test_a_full_batch_does_not_wait_for_the_interval(
    celery: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, broker: Broker
) -> None:
    outbox, _ = make_outbox(celery, monkeypatch, broker, interval=10.0, max_batch=10)
    put(outbox, clock, [uuid.uuid4()])
    put(outbox, clock, [uuid.uuid4() for _ in range(25)])
    # Two more full batches of 10 went out with no time passing, the 5 left wait.
    assert [(at, len(batch)) for at, batch in broker.sent] == [(START, 1), (START, 10), (START, 10)]
    outbox.close()
    assert len(broker.ids) == 26  # close sent the last 5 at once


def test_what_the_broker_refuses_is_handed_back(
    celery: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    broker = Broker(clock, down=True)
    outbox, unsent = make_outbox(celery, monkeypatch, broker, interval=0.01)
    ids = [uuid.uuid4() for _ in range(5)]
    put(outbox, clock, ids)
    assert sorted(unsent) == sorted(ids) and broker.sent == []
    outbox.close()


def test_after_close_ids_are_sent_in_the_callers_thread(
    celery: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, broker: Broker
) -> None:
    outbox, _ = make_outbox(celery, monkeypatch, broker, interval=0.01)
    put(outbox, clock, [uuid.uuid4()])
    outbox.close()
    late = uuid.uuid4()
    outbox.notify([late])
    assert broker.ids[-1] == str(late)


class Backlog:
    """A broker queue whose depth the test sets (the boundary the outbox reads)."""

    def __init__(self, depth: int = 0):
        self.depth = depth
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.depth


def test_while_the_workers_are_behind_ids_wait_and_then_go_out_together(
    celery: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    broker, backlog = Broker(clock), Backlog(depth=3)
    outbox, _ = make_outbox(
        celery, monkeypatch, broker, interval=0.02, backlog=backlog, max_hold=10.0
    )
    ids = [uuid.uuid4() for _ in range(60)]
    for i in ids:  # 0.3 s of arrivals, 15 intervals, all while tasks wait in the broker
        put(outbox, clock, [i])
        clock.advance(0.005)
    assert broker.sent == [] and backlog.reads >= 5  # held, and the backlog was read again
    backlog.depth = 0  # the workers caught up
    clock.advance(0.01)
    assert [len(batch) for _, batch in broker.sent] == [60]  # one task, not fifteen
    outbox.close()


def test_a_flush_does_not_wait_for_the_backlog(
    celery: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, broker: Broker
) -> None:
    outbox, _ = make_outbox(
        celery, monkeypatch, broker, interval=0.01, backlog=Backlog(5), max_hold=30.0
    )
    put(outbox, clock, [uuid.uuid4() for _ in range(3)])
    assert broker.sent == []  # held for the backlog
    assert outbox.flush(timeout=5)
    assert broker.sent == [(START, broker.ids)] and len(broker.ids) == 3  # no time passed
    outbox.close()


def test_while_the_cpus_are_contended_a_batch_fills(
    celery: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    broker, level = Broker(clock), [0.9]
    outbox, _ = make_outbox(
        celery, monkeypatch, broker, interval=0.02, max_hold=10.0, contention=lambda: level[0]
    )
    ids = [uuid.uuid4() for _ in range(60)]
    for i in ids:  # 0.3 s of arrivals, 15 intervals, all on saturated CPUs
        put(outbox, clock, [i])
        clock.advance(0.005)
    assert broker.sent == []
    put(outbox, clock, [uuid.uuid4() for _ in range(40)])  # a full batch of 100 goes at once
    assert [len(batch) for _, batch in broker.sent] == [100]
    level[0] = 0.2  # the CPUs keep up again: ids go out at the interval
    start = clock.now()
    put(outbox, clock, [uuid.uuid4()])
    clock.advance(0.02)
    assert len(broker.sent) == 2 and broker.sent[1][0] - start <= 0.02 + 1e-9
    outbox.close()


# Each signal of load, always on: the workers behind, and the CPUs saturated.
SIGNALS = {"backlog": lambda: 5, "contention": lambda: 1.0}


@pytest.mark.parametrize("signal", SIGNALS)
def test_load_holds_ids_no_longer_than_max_hold(
    celery: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, signal: str, broker: Broker
) -> None:
    outbox, _ = make_outbox(
        celery, monkeypatch, broker, interval=0.01, max_hold=0.2, **{signal: SIGNALS[signal]}
    )
    put(outbox, clock, [uuid.uuid4()])
    while not broker.sent and clock.now() < START + 1.0:
        clock.advance(0.01)
    assert broker.sent, "the id was never sent"
    assert 0.2 - 1e-9 <= broker.sent[0][0] - START <= 0.21 + 1e-9  # held under load, then sent
    outbox.close()


@pytest.mark.parametrize("signal", SIGNALS)
def test_a_load_signal_that_cannot_be_read_holds_nothing(
    celery: Any, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, signal: str, broker: Broker
) -> None:

    def unreadable() -> float:
        raise OSError("no reading")

    outbox, _ = make_outbox(
        celery, monkeypatch, broker, interval=0.01, max_hold=30.0, **{signal: unreadable}
    )
    for sent in range(1, 4):  # each goes out, and the thread lives on after the failure
        if sent > 1:
            clock.advance(0.02)  # past the interval, so the signal is read
        put(outbox, clock, [uuid.uuid4()])
        assert len(broker.ids) == sent
    outbox.close()


@pytest.mark.parametrize(
    ("version", "read"), [("5.7.0", True), ("5.8.0", False), ("4.6.11", False)]
)
def test_the_backlog_is_read_only_on_the_kombu_versions_checked(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, version: str, read: bool
) -> None:
    """kombu's Redis queue layout is private: outside the checked versions the outbox sends
    without reading it, and says so once."""
    from worker import app as worker_app

    monkeypatch.setattr(worker_app.metadata, "version", lambda name: version)
    worker_app.kombu_tested.cache_clear()
    settings = load_settings(
        {
            "DATABASE_URL": "sqlite:////tmp/unused.sqlite3",
            "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        }
    )
    try:
        first = worker_app.broker_backlog(settings)
        second = worker_app.broker_backlog(settings)
    finally:
        worker_app.kombu_tested.cache_clear()
    assert (first is not None, second is not None) == (read, read)
    warnings = [r for r in caplog.records if "outside the versions" in r.getMessage()]
    assert len(warnings) == (0 if read else 1)
