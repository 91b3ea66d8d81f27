"""Reading an answer's body within bounds: size, decompression ratio and the deadline.

httpx decodes a compressed body one network chunk at a time with no output limit, so 64 KiB of
gzip can become 64 MB in one step, and a nested ``Content-Encoding: gzip, gzip`` far more. Here
each gzip/deflate layer inflates at most :data:`PIECE` bytes per step, and every step is checked
against ``max_body_bytes``, ``max_decompression_ratio`` and the request's deadline, so memory is
bounded by the limit, not by what the server sends.

A successful answer over a limit is an error (:class:`BodyTooLarge`, turned into
:class:`~client.errors.ResponseTooLargeError`). An error answer (4xx/5xx) is only cut short: its
first :data:`ERROR_BODY_BYTES` are all its ``{"error": …}`` can need, and its status still counts.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

import httpx

from ._net import Budget

DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024  # a 100,000-task inbox is about 75 MB
DEFAULT_MAX_DECOMPRESSION_RATIO = 100.0  # JSON listings compress 5-20x; a zip bomb 1,000x
ERROR_BODY_BYTES = 64 * 1024
# The ratio is judged only past this many decoded bytes: tiny bodies compress oddly well.
RATIO_GRACE_BYTES = 1024 * 1024
PIECE = 64 * 1024
# What we say we accept, and so what we decode; other codings are left as httpx leaves them.
ACCEPT_ENCODING = "gzip, deflate"

# Set in a response's extensions when its body was byte for byte the ``known_body`` it was read
# against (the content is then empty: the caller has those bytes).
BODY_UNCHANGED = "command_center.body_unchanged"
# Describe the bytes as they came over the wire; a rebuilt response holds them decoded.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True)
class BodyLimits:
    """The bounds of one answer; ``None`` switches a bound off."""

    max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES
    max_decompression_ratio: float | None = DEFAULT_MAX_DECOMPRESSION_RATIO


class BodyProblem(Exception):
    """A successful answer that cannot be read; ``response`` holds no (or little) body."""

    response: httpx.Response


class BodyTooLarge(BodyProblem):
    def __init__(
        self,
        response: httpx.Response,
        *,
        option: str,
        limit: float,
        received: int,
        downloaded: int,
        encoding: str,
    ) -> None:
        super().__init__(option)
        self.response = response
        self.option = option
        self.limit = limit
        self.received = received
        self.downloaded = downloaded
        self.encoding = encoding


class BodyUndecodable(BodyProblem):
    def __init__(self, response: httpx.Response, *, encoding: str, detail: str) -> None:
        super().__init__(detail)
        self.response = response
        self.encoding = encoding
        self.detail = detail


class _Corrupt(Exception):
    pass


class _Inflate:
    """One gzip or deflate layer that yields at most :data:`PIECE` bytes per step."""

    def __init__(self, coding: str) -> None:
        self._gzip = coding in ("gzip", "x-gzip")
        self._first = True
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while not self._z.eof:
            try:
                out = self._z.decompress(data, PIECE)
            except zlib.error as exc:
                if self._first and not self._gzip:
                    # "deflate" is often sent raw, without the zlib header (as httpx allows).
                    self._first = False
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise _Corrupt(str(exc)) from None
            self._first = False
            data = self._z.unconsumed_tail
            if out:
                yield out
            # A full piece may leave output pending inside zlib even with no input left.
            if not data and len(out) < PIECE:
                return
        # Past the end of the stream: trailing bytes are ignored, as httpx does.

    def feed_all(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            yield from self.feed(piece)

    def flush(self) -> Iterator[bytes]:
        if not self._z.eof:
            yield from self.feed(b"")
        try:
            rest = self._z.flush()
        except zlib.error as exc:  # pragma: no cover - zlib's flush does not judge truncation
            raise _Corrupt(str(exc)) from None
        if rest:
            yield rest


def _codings(response: httpx.Response) -> list[str]:
    values = response.headers.get_list("content-encoding", split_commas=True)
    return [v.strip().lower() for v in values if v.strip()]


def rebuilt(streamed: httpx.Response, content: bytes, **extensions: Any) -> httpx.Response:
    """A finished response holding ``content`` decoded, described as such."""
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
    kept = {k: v for k, v in streamed.extensions.items() if k != "network_stream"}
    return httpx.Response(
        streamed.status_code,
        headers=headers,
        content=content,
        request=streamed.request,
        extensions={**kept, **extensions},
    )


class BodyReader:
    """Collects one answer's decoded body, checking the bounds after every piece.

    Feed it the raw chunks of a streamed response (:meth:`feed`), or the decoded chunks of one
    already read in memory (:meth:`feed_decoded`, e.g. from a mock transport); both return False
    once reading should stop. :meth:`finish` gives the response to hand to the flow.

    With ``known_body``, a successful body is compared with it as it arrives and not even kept
    while it matches; a body equal to it comes back empty, marked ``BODY_UNCHANGED``. For a poll
    of 75 MB that usually has not changed, that is a memory comparison instead of a join.
    """

    def __init__(
        self,
        response: httpx.Response,
        limits: BodyLimits,
        budget: Budget,
        *,
        known_body: bytes | None = None,
    ) -> None:
        self._response = response
        self._budget = budget
        self._ok = response.is_success
        limit = limits.max_body_bytes
        self._limit = limit if self._ok else min(ERROR_BODY_BYTES, limit or ERROR_BODY_BYTES)
        self._ratio = limits.max_decompression_ratio if self._ok else None
        codings = _codings(response)
        self._encoding = ", ".join(codings) or "identity"
        # Decode in reverse order of application; unknown codings are skipped, as httpx does.
        self._layers = [
            _Inflate(c) for c in reversed(codings) if c in ("gzip", "x-gzip", "deflate")
        ]
        # The body it may repeat, and how much of it has arrived unchanged (None: it differs).
        self._known = known_body if self._ok else None
        self._matched: int | None = 0 if self._known is not None else None
        # One growing buffer, not a list of chunks: 75 MB of 64 KB pieces freed at once would
        # stay in the process's heap; a single buffer is given back to the system.
        self._body = bytearray()
        self._decoded = 0
        self._downloaded = 0
        self._done = False
        declared = response.headers.get("content-length", "")
        # A declared length over the limit is refused before anything is downloaded.
        if (
            self._ok
            and not self._layers
            and limit is not None
            and declared.isdigit()
            and int(declared) > limit
        ):
            self._too_large("max_body_bytes", limit, int(declared))

    def feed(self, raw: bytes) -> bool:
        """One raw (possibly compressed) chunk; False once reading should stop."""
        if self._done:
            return False
        self._downloaded += len(raw)
        pieces: Iterable[bytes] = (raw,)
        try:
            for layer in self._layers:
                pieces = layer.feed_all(pieces)
            for piece in pieces:
                if not self._take(piece):
                    return False
        except _Corrupt as exc:
            return self._corrupt(str(exc))
        self._budget.check(self._response.request)
        return True

    def feed_decoded(self, chunk: bytes) -> bool:
        """One chunk of a body httpx already decoded (only the size bound applies)."""
        if self._done:
            return False
        self._downloaded += len(chunk)
        return self._take(chunk, judge_ratio=False)

    def finish(self) -> httpx.Response:
        """The response with its whole (or, for an error answer, first part of its) body."""
        if not self._done and self._layers:
            pieces: Iterator[bytes] = iter(())
            try:
                for layer in self._layers:
                    pieces = chain(layer.feed_all(pieces), layer.flush())
                for piece in pieces:
                    if not self._take(piece):
                        break
            except _Corrupt as exc:
                self._corrupt(str(exc))
        extensions: dict[str, Any] = {}
        known, matched = self._known, self._matched
        if known is not None and matched is not None:
            if matched == len(known):
                extensions[BODY_UNCHANGED] = True
            else:  # a beginning of the known body, and no more
                self._body = bytearray(memoryview(known)[:matched])
        content = bytes(self._body)
        self._body = bytearray()
        return rebuilt(self._response, content, **extensions)

    # -- internals ------------------------------------------------------------------------------

    def _take(self, piece: bytes, *, judge_ratio: bool = True) -> bool:
        self._decoded += len(piece)
        limit = self._limit
        if limit is not None and self._decoded > limit:
            if self._ok:
                self._too_large("max_body_bytes", limit, self._decoded)
            keep = len(piece) - (self._decoded - limit)
            self._store(piece[:keep])
            self._done = True  # an error answer: its beginning is enough
            return False
        ratio = self._ratio
        if (
            judge_ratio
            and ratio is not None
            and self._layers
            and self._decoded > RATIO_GRACE_BYTES
            and self._decoded > ratio * max(self._downloaded, 1)
        ):
            self._too_large("max_decompression_ratio", ratio, self._decoded)
        self._store(piece)
        return True

    def _store(self, piece: bytes) -> None:
        matched, known = self._matched, self._known
        if matched is not None and known is not None:
            if known.startswith(piece, matched) and matched + len(piece) <= len(known):
                self._matched = matched + len(piece)
                return
            self._matched = None  # it differs: keep what matched so far, then everything
            self._body = bytearray(memoryview(known)[:matched])
        self._body += piece

    def _too_large(self, option: str, limit: float, received: int) -> None:
        self._body = bytearray()
        self._done = True
        raise BodyTooLarge(
            rebuilt(self._response, b""),
            option=option,
            limit=limit,
            received=received,
            downloaded=max(self._downloaded, self._response.num_bytes_downloaded),
            encoding=self._encoding,
        )

    def _corrupt(self, detail: str) -> bool:
        self._done = True
        if self._ok:
            self._body = bytearray()
            raise BodyUndecodable(
                rebuilt(self._response, b""), encoding=self._encoding, detail=detail
            )
        return False  # an error answer keeps what could be decoded
