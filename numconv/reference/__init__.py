"""Naive loop implementations, written to be read, not run fast.

These are the loops a teacher writes on a blackboard: one Python ``for`` per
index. They are the second oracle of the test suite (the fast path must
equal them) and the first thing a learner should read.
"""
