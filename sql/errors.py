"""The base of every error xpha reports to a person as one clear line, never a traceback."""


class XphaError(Exception):
    """A failure the user can act on: bad input, missing data, a database that is not running."""
