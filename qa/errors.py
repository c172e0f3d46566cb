"""The assistant's own exceptions; the CLI and the app turn them into one-line messages.

Each message names the file at fault and the fix.
"""


class QAError(Exception):
    """Base class: anything the user can fix."""


class CorpusError(QAError):
    """The corpus folder is missing, empty, or holds a file we cannot read."""


class IndexNotFoundError(QAError):
    """No index has been built yet."""


class StaleIndexError(QAError):
    """The index was built from another corpus or other settings."""


class CorruptIndexError(QAError):
    """An index file is damaged or was written by something else."""


class ModelNotFoundError(QAError):
    """The embedding or reader model directory is missing or unreadable."""


class TrainingDataError(QAError):
    """A training or question file is missing or malformed."""


class AnswerModelError(QAError):
    """The trained answer model's files are missing or do not fit each other."""


class IndexFolderError(QAError):
    """The index folder is a file, or cannot be written."""


class OutputError(QAError):
    """An output file cannot be written where it was asked for."""


class AddressError(QAError):
    """The chat cannot listen on the host and port it was given."""


class BusyError(QAError):
    """Every answering slot stayed taken for too long: the user should try again shortly."""
