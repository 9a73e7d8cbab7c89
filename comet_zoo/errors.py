"""The project's exception types for what a user meets.

`CometError`: a mistake the user can fix by changing the command (bad input, unknown
name, refused file); the CLI prints it on one line and exits 2. `CometRuntimeError`,
a kind of CometError: the command was fine but the world failed it (a corrupt or
missing file, a download, a full disk); one line, exit 1, so a script can tell a typo
from a broken artifact. Anything else is a bug and keeps its traceback.
"""


class CometError(Exception):
    """A user-facing error: bad input, unknown name, refused file."""


class CometRuntimeError(CometError):
    """A well-formed request that failed: corrupt or missing file, network, disk."""
