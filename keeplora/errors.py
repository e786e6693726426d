"""The one exception type that means "the user's input is wrong": printed as one line, exit code 2."""


class UserError(ValueError):
    """Raised with a message that names the file, key or sample and says what to do."""
