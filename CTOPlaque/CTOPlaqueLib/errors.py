"""Exceptions a user can act on."""


class CTOPlaqueInputError(ValueError):
    """Input that cannot be analyzed: the message says what is wrong in clinical words.

    The command line prints it as ``error: <message>`` and exits with status 2.
    """
