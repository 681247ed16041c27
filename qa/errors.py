"""The one error type the project raises for problems a user can fix.

Every check of user input (a file, a question, an upload, a config key, an index on
disk) raises `QAError` with a message that names the bad value and says what to do.
The CLI prints the message and exits 2; the web app shows it in the chat.
"""


class QAError(Exception):
    """A problem with input or state that the user can act on; the message says how."""


class IndexMissingError(QAError):
    """No index exists where one was expected."""


class IndexCorruptError(QAError):
    """An index on disk fails its checksums or is inconsistent."""


class ModelMismatchError(QAError):
    """The index was built with a different embedding model or dimension."""


class BusyError(QAError):
    """The server's queue is full; try again shortly."""
