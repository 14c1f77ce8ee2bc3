"""The base of errors shown to the user as one line (no traceback) by the CLI."""


class UserError(Exception):
    """A problem the user can act on, described in one line."""
