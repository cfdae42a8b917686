"""The one error the package raises: a message that cannot be read safely."""


class MalformedMail(ValueError):
    """The message cannot be read safely (broken MIME, undecodable text, oversize)."""
