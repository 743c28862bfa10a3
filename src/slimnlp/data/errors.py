"""The one error type of slimnlp.data."""


class DataError(ValueError):
    """A problem with the input data; the message names the file, row, column or label and says
    what to do about it."""
