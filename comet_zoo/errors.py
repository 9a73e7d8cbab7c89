"""The one exception type for mistakes a user can make.

The CLI turns a `CometError` into a one-line message and exit code 2; anything
else is a bug and keeps its traceback.
"""


class CometError(Exception):
    """A user-facing error: bad input, unknown name, refused file."""
