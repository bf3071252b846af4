"""A worker's memos stay bounded however many distinct values an archive holds."""

from __future__ import annotations

from linkatlas.extract.memo import remember


def test_a_full_memo_is_emptied_before_it_remembers_more() -> None:
    memo: dict[str, int] = {}
    for number in range(10):
        assert remember(memo, f"k{number}", number, limit=4) == number
        assert len(memo) <= 4
    assert memo == {"k8": 8, "k9": 9}  # emptied at k4 and k8


def test_a_memo_below_its_limit_keeps_everything() -> None:
    memo = {"a": 1}
    remember(memo, "b", 2, limit=3)
    assert memo == {"a": 1, "b": 2}
