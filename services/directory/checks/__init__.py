"""Checks of directory accounts against their platforms, the review report, and the X List.

Pure rules in `rules.py` (what an answer means, which accounts are due) and `review.py`; one
module per platform does the I/O and never raises for a platform's answer: an error or a rate
limit is an inconclusive `CheckResult`, not a crash (docs/adr/0012-directory-platform-checks.md).
"""
