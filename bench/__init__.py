"""chatbridge benchmarks: what a message costs, each number next to a baseline measured in the same run.

Run ``make bench`` (or ``.venv/bin/python -m bench``; ``--quick`` for a fast pass, ``--json PATH`` to keep
the results). Every benchmark reports a ratio against its baseline, so a slower or noisier machine moves
both sides together, and a target where the issue sets one.
"""
