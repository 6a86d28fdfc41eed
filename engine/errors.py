"""Errors that carry a message meant for the learner; the CLI prints them without a traceback."""


class DriftlabError(Exception):
    """A problem the user can act on. The message says what is wrong and what to do."""
