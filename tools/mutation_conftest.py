"""Hypothesis under mutation (tools/mutate.py copies this file to its scratch folder as the
root conftest.py; never loaded by the suite itself).

A mutant's verdict must not depend on luck or on what an earlier mutant left behind: every
property test draws the same examples (`derandomize`), no example database is read or written
(a failure saved by one mutant would be replayed against the next), and at most
`MUTATION_EXAMPLES` examples are drawn, so that a surviving mutant, which runs every test that
reaches its function, does not pay a minute of property tests.
"""

from __future__ import annotations

import pytest
from hypothesis import is_hypothesis_test, settings

MUTATION_EXAMPLES = 100


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        test = getattr(item, "obj", None)
        if test is None or not is_hypothesis_test(test):
            continue
        # the settings a test was decorated with, which @given reads when the test runs
        current = test._hypothesis_internal_use_settings
        test._hypothesis_internal_use_settings = settings(
            current, max_examples=min(current.max_examples, MUTATION_EXAMPLES),
            derandomize=True, database=None, deadline=None)
