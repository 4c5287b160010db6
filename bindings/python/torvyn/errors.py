"""Exceptions, one per torvyn_status."""


class TorvynError(Exception):
    """A Torvyn call failed. ``status`` is the C status code."""

    status = None

    def __init__(self, message: str, status: int = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidArgument(TorvynError, ValueError):
    status = 1


class NotFound(TorvynError, LookupError):
    status = 2


class WouldBlock(TorvynError):
    status = 3


class Timeout(TorvynError, TimeoutError):
    status = 4


class EndOfStream(TorvynError):
    status = 5


class Cancelled(TorvynError):
    status = 6


class Trap(TorvynError):
    status = 7


class ContractMismatch(TorvynError):
    status = 8


class IoError(TorvynError, OSError):
    status = 9


class Panic(TorvynError):
    status = 10


class Internal(TorvynError):
    status = 11


class StaleHandle(TorvynError):
    status = 12


class Closed(TorvynError):
    status = 13


class Failed(TorvynError):
    status = 14


BY_STATUS = {
    cls.status: cls
    for cls in (
        InvalidArgument, NotFound, WouldBlock, Timeout, EndOfStream, Cancelled, Trap,
        ContractMismatch, IoError, Panic, Internal, StaleHandle, Closed, Failed,
    )
}
