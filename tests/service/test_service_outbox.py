"""The outbox: ids go out after their commit, alone when idle, together under load, and
whatever the broker refuses is handed back for the sweeper."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from service.config import load_settings
from worker.app import GRADE_TASK, QUEUE, make_celery
from worker.outbox import Outbox


class Broker:
    """Records what Celery's send_task was asked to send (the boundary to the broker)."""

    def __init__(self, delay: float = 0.0, down: bool = False):
        self.sent: list[tuple[float, list[str]]] = []
        self.delay = delay
        self.down = down
        self.lock = threading.Lock()

    def send_task(self, name: str, args: list[Any], queue: str) -> None:
        assert (name, queue) == (GRADE_TASK, QUEUE)
        if self.down:
            raise ConnectionRefusedError("broker is down")
        time.sleep(self.delay)
        with self.lock:
            self.sent.append((time.monotonic(), list(args[0])))

    @property
    def ids(self) -> list[str]:
        return [i for _, batch in self.sent for i in batch]


@pytest.fixture
def celery() -> Any:
    return make_celery(load_settings({"DATABASE_URL": "sqlite:////tmp/unused.sqlite3"}))


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

    outbox = Outbox(celery, remember, interval=interval, max_batch=max_batch, **options)
    return outbox, unsent


def wait_until(done: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_an_id_after_a_quiet_spell_goes_out_at_once_and_alone(
    celery: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker()
    outbox, unsent = make_outbox(celery, monkeypatch, broker, interval=5.0)
    one = uuid.uuid4()
    start = time.monotonic()
    outbox.put([one])
    assert outbox.flush(timeout=2)
    assert broker.sent and broker.sent[0][0] - start < 1.0  # not held for the 5 s interval
    assert broker.ids == [str(one)] and unsent == []
    outbox.close()


def test_under_load_ids_share_tasks_at_most_one_per_interval(
    celery: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker()
    interval = 0.05
    outbox, _ = make_outbox(celery, monkeypatch, broker, interval=interval)
    ids = [uuid.uuid4() for _ in range(300)]
    for i in ids:  # about 1,000 a second for 0.3 s
        outbox.put([i])
        time.sleep(0.001)
    flushed = time.monotonic()
    assert outbox.flush(timeout=5)  # sends the rest at once
    outbox.close()
    assert sorted(broker.ids) == sorted(map(str, ids))  # each once
    assert len(broker.sent) < len(ids) / 5
    paced = [at for at, _ in broker.sent if at < flushed]
    gaps = [b - a for a, b in itertools.pairwise(paced)]
    assert len(gaps) >= 3 and min(gaps) >= interval * 0.9


def test_a_full_batch_does_not_wait_for_the_interval(
    celery: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker()
    outbox, _ = make_outbox(celery, monkeypatch, broker, interval=10.0, max_batch=10)
    outbox.put([uuid.uuid4()])
    assert outbox.flush(timeout=2)
    start = time.monotonic()
    outbox.put([uuid.uuid4() for _ in range(25)])
    deadline = time.monotonic() + 3
    while len(broker.ids) < 21 and time.monotonic() < deadline:
        time.sleep(0.01)
    # Two more full batches of 10 went out well within the 10 s interval.
    assert [len(batch) for _, batch in broker.sent[:3]] == [1, 10, 10]
    assert broker.sent[2][0] - start < 2.0
    outbox.close()
    assert len(broker.ids) == 26  # close sent the last 5 at once


def test_what_the_broker_refuses_is_handed_back(
    celery: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker(down=True)
    outbox, unsent = make_outbox(celery, monkeypatch, broker, interval=0.01)
    ids = [uuid.uuid4() for _ in range(5)]
    outbox.put(ids)
    assert outbox.flush(timeout=2)
    assert sorted(unsent) == sorted(ids) and broker.sent == []
    outbox.close()


def test_after_close_ids_are_sent_in_the_callers_thread(
    celery: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker()
    outbox, _ = make_outbox(celery, monkeypatch, broker, interval=0.01)
    outbox.put([uuid.uuid4()])
    outbox.close()
    late = uuid.uuid4()
    outbox.put([late])
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
    celery: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, backlog = Broker(), Backlog(depth=3)
    outbox, _ = make_outbox(
        celery, monkeypatch, broker, interval=0.02, backlog=backlog, max_hold=10.0
    )
    ids = [uuid.uuid4() for _ in range(60)]
    for i in ids:  # 0.3 s of arrivals, 15 intervals, all while tasks wait in the broker
        outbox.put([i])
        time.sleep(0.005)
    assert broker.sent == [] and backlog.reads >= 5  # held, and the backlog was read again
    backlog.depth = 0  # the workers caught up
    wait_until(lambda: len(broker.ids) == len(ids))
    assert [len(batch) for _, batch in broker.sent] == [60]  # one task, not fifteen
    outbox.close()


def test_a_flush_does_not_wait_for_the_backlog(
    celery: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker()
    outbox, _ = make_outbox(
        celery, monkeypatch, broker, interval=0.01, backlog=Backlog(5), max_hold=30.0
    )
    outbox.put([uuid.uuid4() for _ in range(3)])
    start = time.monotonic()
    assert outbox.flush(timeout=5)
    assert time.monotonic() - start < 1.0 and len(broker.ids) == 3
    outbox.close()


def test_while_the_cpus_are_contended_a_batch_fills(
    celery: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, level = Broker(), [0.9]
    outbox, _ = make_outbox(
        celery, monkeypatch, broker, interval=0.02, max_hold=10.0, contention=lambda: level[0]
    )
    ids = [uuid.uuid4() for _ in range(60)]
    for i in ids:  # 0.3 s of arrivals, 15 intervals, all on saturated CPUs
        outbox.put([i])
        time.sleep(0.005)
    assert broker.sent == []
    outbox.put([uuid.uuid4() for _ in range(40)])  # a full batch of 100 goes at once
    wait_until(lambda: broker.sent)
    assert [len(batch) for _, batch in broker.sent] == [100]
    level[0] = 0.2  # the CPUs keep up again: ids go out at the interval
    start = time.monotonic()
    outbox.put([uuid.uuid4()])
    wait_until(lambda: len(broker.sent) == 2)
    assert len(broker.sent) == 2 and broker.sent[1][0] - start < 1.0
    outbox.close()


# Each signal of load, always on: the workers behind, and the CPUs saturated.
SIGNALS = {"backlog": lambda: 5, "contention": lambda: 1.0}


@pytest.mark.parametrize("signal", SIGNALS)
def test_load_holds_ids_no_longer_than_max_hold(
    celery: Any, monkeypatch: pytest.MonkeyPatch, signal: str
) -> None:
    broker = Broker()
    outbox, _ = make_outbox(
        celery, monkeypatch, broker, interval=0.01, max_hold=0.2, **{signal: SIGNALS[signal]}
    )
    start = time.monotonic()
    outbox.put([uuid.uuid4()])
    wait_until(lambda: broker.sent, timeout=3)
    assert broker.sent, "the id was never sent"
    assert 0.15 <= broker.sent[0][0] - start < 1.0  # held under load, then sent
    outbox.close()


@pytest.mark.parametrize("signal", SIGNALS)
def test_a_load_signal_that_cannot_be_read_holds_nothing(
    celery: Any, monkeypatch: pytest.MonkeyPatch, signal: str
) -> None:
    broker = Broker()

    def unreadable() -> float:
        raise OSError("no reading")

    outbox, _ = make_outbox(
        celery, monkeypatch, broker, interval=0.01, max_hold=30.0, **{signal: unreadable}
    )
    for sent in range(1, 4):  # each goes out, and the thread lives on after the failure
        time.sleep(0.02)  # past the interval, so the signal is read
        outbox.put([uuid.uuid4()])
        wait_until(lambda sent=sent: len(broker.ids) == sent)
        assert len(broker.ids) == sent
    outbox.close()
