"""The reconciler: makes the SFU and the agent fleet match the stored desired state of a Space.

diff.py is the pure part (desired + observed -> actions); runner.py reads both sides, acts on the
difference and records what it did. Level-triggered and idempotent: run it after a write, on a
webhook, on a timer, twice or late; the result is the same.
"""
