"""The 0–100 scale of UR and DR: when two scores are one (TIE) and how scores map onto 1..100;
shared by the local ratings (ratings.py), the imported ranks (imported.py) and Spark."""

from __future__ import annotations

import numpy as np

__all__ = ["TIE", "log_scale"]

# Scores this close (relative) are one score: PageRank stops at an L1 change of 1e-6 in
# float32, so exactly tied nodes (the leaves of a star) can differ in their last digits.
TIE = 1e-5


def log_scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Linked nodes' scores → 1..100: `low` is 1, `high` (and scores tied with it) 100."""
    top = values >= high * (1.0 - TIE)
    if not high * (1.0 - TIE) > low > 0:
        return np.full(values.shape, 100, dtype=np.int32)
    scaled = 1.0 + 99.0 * np.log(values / low) / np.log(high / low)
    # Nearest integer, so float noise between equal scores cannot split a tie at a floor
    # boundary; 100 is kept for the strongest, so every other node is 1..99.
    rounded = np.clip(np.floor(scaled + 0.5), 1, 99).astype(np.int32)
    rounded[top] = 100
    return rounded
