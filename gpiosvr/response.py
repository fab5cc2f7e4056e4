"""The seed API's :class:`Response`: one command's result and exceptions, as the
server answered them. Apart from :mod:`gpiosvr.client` (which re-exports it) so that
the blocking client and the pigpio facade can use it without importing asyncio."""

from __future__ import annotations

from typing import Any

from gpiosvr import protocol

_ASCII_DIGITS = frozenset("0123456789")


class Response:
    """Response from a GPIO server, with methods for encoding and decoding.

    Mimics :class:`asyncio.Future`. Other than a future, a response can hold more
    than one exception, if several errors occurred on the server side.

    :meth:`result` returns the result when no exception is present. When one or
    more exceptions are present it raises the last one appended (the one
    :meth:`exception` returns); all of them stay available from :meth:`exceptions`.
    A response on which nothing was set yet raises :class:`asyncio.InvalidStateError`
    from :meth:`result`, like a future.
    """

    __slots__ = ("_result", "_exceptions", "_done")

    def __init__(self, result=None):
        self._result: Any = None
        self._exceptions: list[BaseException] = []
        self._done = False
        if result is not None:
            self.set_result(result)

    # -- codec ---------------------------------------------------------------

    @staticmethod
    def encodeException(exception) -> str:
        """Encodes a single exception for sending it over the Unix socket.

        Returns ``!Kind:code:"message"``; see ``docs/protocol.md``.
        """
        return protocol.encode_exception(exception)

    @staticmethod
    def decodeExceptions(errorMessages) -> list[Exception]:
        """Decodes the error messages part of a response into Exception instances.

        Unknown kinds become :class:`gpiosvr.errors.RemoteError`; malformed text
        raises :class:`gpiosvr.errors.ProtocolError`.
        """
        return protocol.decode_exceptions(errorMessages)

    @staticmethod
    def decode(response: str) -> "Response":
        """Decodes an encoded representation of a response into a Response."""
        answer = protocol.decode_answer(response)
        return Response._from_answer(answer)

    @staticmethod
    def _from_answer(answer: protocol.Answer) -> "Response":
        new = Response()
        new._result = answer.value
        new._exceptions = list(answer.exceptions)
        new._done = True
        return new

    @staticmethod
    def _from_values(values: "list[Any]") -> "list[Response]":
        """One done response per value, none with exceptions: a batch's answers."""
        made = []
        append = made.append
        new = object.__new__
        for value in values:
            response = new(Response)
            response._result = value
            response._exceptions = []
            response._done = True
            append(response)
        return made

    def encode(self) -> str:
        """Encodes this response for sending it over the Unix socket.

        Considers the set result and all appended exceptions.
        """
        return protocol.encode_answer(self._result, self._exceptions)

    # -- future-like ---------------------------------------------------------

    def append_exception(self, exception) -> None:
        """Appends an exception to this response.

        It is up to the clients to evaluate all or only specific exceptions if there
        are more than one.
        """
        if not isinstance(exception, BaseException):
            raise TypeError(f"not an exception: {exception!r}")
        self._exceptions.append(exception)
        self._done = True

    def result(self):
        """Returns the result/payload of the response; see the class docstring."""
        if self._exceptions:
            raise self._exceptions[-1]
        if not self._done:
            import asyncio  # only here: importing the facade must not load asyncio
            raise asyncio.InvalidStateError("Result is not set.")
        return self._result

    def set_result(self, result) -> None:
        """Sets the result of the response.

        Automatically converts the data type to int if result is a string made only
        of ASCII digits (``"42"`` becomes ``42``); nothing else is converted.
        """
        if isinstance(result, str) and result and _ASCII_DIGITS.issuperset(result):
            result = int(result)
        self._result = result
        self._done = True

    def set_exception(self, exception) -> None:
        """By contrast to append_exception(), sets only one exception, discarding
        all exceptions appended before."""
        self._exceptions.clear()
        self.append_exception(exception)

    def exception(self):
        """Returns the last exception appended to this response, or None."""
        return self._exceptions[-1] if self._exceptions else None

    def exceptions(self) -> list[Exception]:
        """Returns all exceptions appended to this response."""
        return list(self._exceptions)

    def done(self) -> bool:
        """True if a result and/or exception has already been set on this response."""
        return self._done

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (
            self._done == other._done
            and type(self._result) is type(other._result)
            and self._result == other._result
            and [_exc_key(e) for e in self._exceptions] == [_exc_key(e) for e in other._exceptions]
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        excs = f", exceptions={self._exceptions!r}" if self._exceptions else ""
        return f"Response(result={self._result!r}{excs})"


def _exc_key(exc: BaseException) -> tuple:
    return (protocol.exception_kind(exc), str(exc), getattr(exc, "code", None))
