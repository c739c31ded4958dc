"""Errors that describe a user's mistake (bad flags, data or names).

Recipes catch `UsageError` and print its message as one paragraph, with no traceback,
then exit with a non-zero status.
"""


class UsageError(ValueError):
    """A problem with the user's input that the message explains how to fix."""
