"""Worked solutions of the exercises in ``docs/exercises/``: plain loops and NumPy, no numconv.

Each module holds the function a student writes, the way a student would
write it. ``numconv.exercises.check`` holds them to numconv's own ops, and
the test suite makes sure they pass. Read them after trying the exercise.
"""
