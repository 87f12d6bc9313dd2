"""Exceptions raised by :mod:`persisting`.

Every engine error is a :class:`Error` carrying the engine's status code name in ``code`` and its
message (which names the topic, bucket, field or file at fault). There is one class per status
code; those that mean a bad argument are also :class:`ValueError` (or :class:`TypeError`), as
Python code expects.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every error the engine reports."""

    #: The engine's status code name ("InvalidArgument", "NotFound", ...).
    code = "Unknown"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class InvalidArgumentError(Error, ValueError):
    """Bad input from the caller; nothing was changed."""

    code = "InvalidArgument"


class RecordTypeError(Error, TypeError):
    """A record, or a value in it, has a type Persisting does not store."""

    code = "InvalidArgument"


class NotFoundError(Error, LookupError):
    """A topic, bucket, backend or file does not exist."""

    code = "NotFound"


class AlreadyExistsError(Error):
    """Something to be created exists already."""

    code = "AlreadyExists"


class FailedPreconditionError(Error):
    """The state conflicts with the request (e.g. reopening a topic with other settings)."""

    code = "FailedPrecondition"


class OutOfRangeError(Error, IndexError):
    """An offset past the end, or below the first one kept."""

    code = "OutOfRange"


class IOError(Error):  # noqa: A001 - the engine's name for the code
    """The file system failed (ENOSPC, EIO, fsync)."""

    code = "IOError"


class CorruptionError(Error):
    """Stored bytes failed a check (CRC, magic, version)."""

    code = "Corruption"


class NotSupportedError(Error):
    """A feature or format that is not implemented."""

    code = "NotSupported"


class UnavailableError(Error, ConnectionError):
    """A node or service cannot be reached."""

    code = "Unavailable"


class DeadlineExceededError(Error, TimeoutError):
    """A timeout passed."""

    code = "DeadlineExceeded"


class ResourceExhaustedError(Error):
    """A limit was hit (size, depth)."""

    code = "ResourceExhausted"


class UnauthenticatedError(Error, PermissionError):
    """Missing or wrong credentials."""

    code = "Unauthenticated"


class InternalError(Error):
    """A bug in Persisting."""

    code = "Internal"


class ClosedError(Error, RuntimeError):
    """The system was closed."""

    code = "FailedPrecondition"


class BackendError(Error):
    """A backend written in Python raised; the message names the backend and its exception."""

    code = "Internal"


_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        FailedPreconditionError,
        OutOfRangeError,
        IOError,
        CorruptionError,
        NotSupportedError,
        UnavailableError,
        DeadlineExceededError,
        ResourceExhaustedError,
        UnauthenticatedError,
        InternalError,
    )
}


def from_status(code: str, message: str) -> Error:
    """The exception for an engine status (used by the extension)."""
    return _BY_CODE.get(code, Error)(message)
