"""The one exception type the CLI turns into a one-line message instead of a traceback."""


class PersonaGraphError(Exception):
    """A failure the user can act on; its message says what went wrong and how to fix it."""
