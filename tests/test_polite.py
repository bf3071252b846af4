"""The per-host polite schedule crawl and check share (net/polite.py), on a fake clock: limits
per host and overall, the delay between starts, Retry-After pauses, fairness, no busy loop."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import pytest

from linkatlas.net.polite import HostSchedule, InFlight


def schedule(concurrency: int = 8, per_host: int = 2, delay: float = 0.0,
             **hosts: int) -> HostSchedule[str]:
    plan: HostSchedule[str] = HostSchedule(concurrency=concurrency, per_host=per_host,
                                           delay=delay)
    for host, count in hosts.items():
        for n in range(count):
            plan.add(host, f"{host}{n}", 0.0)
    return plan


def start_all(plan: HostSchedule[str], now: float) -> list[str]:
    """Take and start everything the schedule lets go at `now`."""
    started = []
    while (due := plan.take(now)) is not None:
        plan.start(due[0], now)
        started.append(due[1])
    return started


def test_the_delay_separates_starts_to_one_host_only() -> None:
    plan = schedule(delay=1.0, a=3, b=1)
    assert start_all(plan, 0.0) == ["a0", "b0"]
    plan.finish("a", 0.1)
    assert plan.take(0.5) is None
    assert plan.next_time() == 1.0
    assert start_all(plan, 1.0) == ["a1"]
    assert plan.next_time() == 2.0


def test_the_limit_per_host_waits_for_a_request_to_end() -> None:
    plan = schedule(per_host=2, a=5)
    assert start_all(plan, 0.0) == ["a0", "a1"]
    assert plan.next_time() is None  # nothing to wake for: only an end frees the host
    plan.finish("a", 3.0)
    assert start_all(plan, 3.0) == ["a2"]
    assert plan.waiting(3.0) == 1


def test_the_global_cap_holds_every_host() -> None:
    plan = schedule(concurrency=3, per_host=2, a=2, b=2, c=2)
    assert len(start_all(plan, 0.0)) == 3
    assert plan.in_flight == 3 and plan.take(0.0) is None
    plan.finish("a", 1.0)
    assert len(start_all(plan, 1.0)) == 1


def test_retry_after_pushes_the_host_back_and_the_others_go_on() -> None:
    plan = schedule(per_host=1, a=2, b=2)
    assert start_all(plan, 0.0) == ["a0", "b0"]
    plan.pause("a", 10.0)  # a 429 with Retry-After: 10
    plan.finish("a", 0.5)
    plan.finish("b", 0.5)
    assert start_all(plan, 0.5) == ["b1"]
    plan.finish("b", 1.0)
    assert plan.take(9.9) is None and plan.next_time() == 10.0
    assert start_all(plan, 10.0) == ["a1"]


def test_a_longer_delay_of_one_start_and_a_crawl_delay_learned_later() -> None:
    plan = schedule(per_host=4, delay=0.0, a=4)
    due = plan.take(0.0)
    assert due is not None
    plan.start("a", 0.0, delay=2.0)  # this start's own Crawl-delay
    assert plan.take(1.0) is None and plan.next_time() == 2.0
    plan.start("a", 2.0) if plan.take(2.0) else pytest.fail("a did not go at 2.0")
    plan.stretch("a", 5.0)  # robots.txt answered: Crawl-delay 5 after the last start
    assert plan.take(6.9) is None and plan.next_time() == 7.0


def test_narrow_hold_release_and_remove() -> None:
    plan = schedule(per_host=3, a=4)
    plan.narrow("a", 1)
    assert start_all(plan, 0.0) == ["a0"]
    plan.finish("a", 0.0)
    plan.hold("a")
    assert plan.take(0.0) is None and plan.next_time() is None
    assert plan.remove("a", lambda item: item == "a2") == ["a2"]
    plan.release("a", 1.0)
    assert start_all(plan, 1.0) == ["a1"]
    assert sorted(plan.items()) == ["a3"] and plan.queued == 1 and plan.pending("a") == 1


def test_an_item_taken_back_goes_first() -> None:
    plan = schedule(a=3)
    due = plan.take(0.0)
    assert due == ("a", "a0")
    plan.add("a", "a0", 0.0, first=True)
    assert plan.take(0.0) == ("a", "a0")


def test_hosts_take_turns() -> None:
    plan = schedule(concurrency=1, per_host=1, big=50, b=2, c=2)
    order = []
    for step in range(8):
        due = plan.take(float(step))
        assert due is not None
        plan.start(due[0], float(step))
        plan.finish(due[0], float(step))
        order.append(due[0])
    assert order == ["big", "b", "c", "big", "b", "c", "big", "big"]


@pytest.mark.parametrize("seed", range(6))
def test_random_runs_keep_every_rule_and_never_spin(seed: int) -> None:
    """A driver that sleeps exactly as InFlight does: to the schedule's next time or the next
    end of a request. Every item starts once; no limit, delay or pause is broken; every turn
    of the loop starts something or moves the clock."""
    rng = random.Random(seed)
    per_host, concurrency, delay = rng.randint(1, 3), rng.randint(1, 6), rng.choice([0.0, 0.3])
    plan: HostSchedule[str] = HostSchedule(concurrency=concurrency, per_host=per_host,
                                           delay=delay)
    items = [f"h{rng.randint(0, 6)}/{n}" for n in range(120)]
    for item in items:
        plan.add(item.split("/")[0], item, 0.0)
    now, ends = 0.0, []   # (time, host) of the requests in flight
    starts: defaultdict[str, list[float]] = defaultdict(list)
    paused: dict[str, float] = {}
    active: Counter[str] = Counter()
    done, turns = [], 0
    while len(done) < len(items):
        turns += 1
        assert turns < 10 * len(items), "the loop spins"
        for end, host in [e for e in ends if e[0] <= now]:
            ends.remove((end, host))
            active[host] -= 1
            plan.finish(host, now)
        started = 0
        while (due := plan.take(now)) is not None:
            host, item = due
            assert active[host] < per_host and sum(active.values()) < concurrency
            assert not starts[host] or now - starts[host][-1] >= delay - 1e-9
            assert now >= paused.get(host, 0.0)
            plan.start(host, now)
            starts[host].append(now)
            active[host] += 1
            done.append(item)
            started += 1
            ends.append((now + rng.choice([0.05, 0.2, 1.0]), host))
            if rng.random() < 0.05:  # a Retry-After
                paused[host] = now + 2.0
                plan.pause(host, paused[host])
        wake = [end for end, _ in ends]
        if plan.in_flight < plan.concurrency and (when := plan.next_time()) is not None:
            assert when > now, (when, now)  # nothing due is left behind
            wake.append(when)
        if not started:
            assert wake and min(wake) > now, "woken with nothing to do and no time passing"
        now = max(now, min(wake)) if wake else now
    assert sorted(done) == sorted(items)


def test_inflight_sleeps_until_the_next_start_and_cancels_on_close() -> None:
    async def main() -> tuple[list[float], int, bool]:
        plan: HostSchedule[str] = HostSchedule(concurrency=4, per_host=1, delay=0.05)
        inflight = InFlight(plan)
        for n in range(4):
            plan.add("a", f"a{n}", inflight.now())
        starts: list[float] = []
        turns = 0
        while len(starts) < 4:
            turns += 1
            while (due := plan.take(inflight.now())) is not None:
                starts.append(inflight.now())
                inflight.start(due[0], asyncio.sleep(0))
            if len(starts) < 4:
                await inflight.wait()
        plan.add("b", "b0", inflight.now())
        assert plan.take(inflight.now()) == ("b", "b0")
        hung = inflight.start("b", asyncio.sleep(60))
        await inflight.close()
        return starts, turns, hung.cancelled() and plan.in_flight == 0

    starts, turns, cancelled = asyncio.run(main())
    assert all(b - a >= 0.05 - 1e-3 for a, b in zip(starts, starts[1:], strict=False))
    assert turns <= 12  # woken by request ends and the delay's timer, not spinning
    assert cancelled
