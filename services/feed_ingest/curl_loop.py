"""libcurl's multi interface (pycurl) driven by the asyncio event loop: feed_ingest's HTTP engine.

Why libcurl and not aiohttp for feeds: most polls are a conditional GET answered 304, and a
worker makes thousands a second. Through aiohttp's request and response machinery such a fetch
cost ~450 µs of CPU; through libcurl, driven from the loop here, ~130 µs (bench/README.md). libcurl
keeps the connections (keep-alive, the per-host and total limits); `services.feed_ingest.fetch`
keeps Herald's rules: which addresses may be connected to, how big and how slow a response may
be, what each failure is called.

How it runs (libcurl's "multi_socket" API): libcurl says which sockets to watch and when its next
timeout is (`_on_socket`, `_on_timer`); the loop calls back when a socket is ready or the timer
fires, and `_act` lets libcurl proceed, then completes the futures of finished transfers. No
threads, no polling.
"""

from __future__ import annotations

import asyncio
import contextlib

import pycurl

_READ, _WRITE = 1, 2


class CurlError(Exception):
    """A transfer libcurl ended with an error: `code` is libcurl's CURLcode."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CurlLoop:
    """One `CurlMulti` on the running loop: `await perform(easy)` runs one configured transfer."""

    def __init__(self, *, max_connections: int, max_per_host: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, max_connections)
        self._multi.setopt(pycurl.M_MAXCONNECTS, max_connections)
        self._multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, max_per_host)
        self._watched: dict[int, int] = {}  # fd → _READ | _WRITE registered with the loop
        self._waiting: dict[pycurl.Curl, asyncio.Future[None]] = {}
        self._timer: asyncio.Handle | None = None
        self._closed = False

    async def perform(self, easy: pycurl.Curl) -> None:
        """Run the transfer `easy` is set up for; raise `CurlError` if libcurl fails it. Cancelling
        the caller removes the transfer (its connection is closed, not reused)."""
        if self._closed:
            raise CurlError(pycurl.E_FAILED_INIT, "the HTTP engine is closed")
        done = self._loop.create_future()
        self._waiting[easy] = done
        self._multi.add_handle(easy)
        try:
            await done
        finally:
            if self._waiting.pop(easy, None) is not None:  # cancelled or aborted mid-transfer
                self._multi.remove_handle(easy)

    def abort(self, easy: pycurl.Curl, error: BaseException) -> None:
        """End a running transfer now with `error` (for limits libcurl cannot express, such as a
        read that stalls for a fraction of a second)."""
        done = self._waiting.pop(easy, None)
        if done is not None:
            self._multi.remove_handle(easy)
            if not done.done():
                done.set_exception(error)

    def close(self) -> None:
        """Fail what is still running and close every connection."""
        self._closed = True
        for easy in list(self._waiting):
            self.abort(easy, CurlError(pycurl.E_ABORTED_BY_CALLBACK, "the HTTP engine was closed"))
        if self._timer is not None:
            self._timer.cancel()
        for fd in list(self._watched):
            self._unwatch(fd)
        self._multi.close()

    # --- libcurl's callbacks ------------------------------------------------------------------
    def _on_socket(self, what: int, fd: int, multi: object, data: object) -> None:
        if what == pycurl.POLL_REMOVE:
            self._unwatch(fd)
            return
        wanted = (_READ if what in (pycurl.POLL_IN, pycurl.POLL_INOUT) else 0) | (
            _WRITE if what in (pycurl.POLL_OUT, pycurl.POLL_INOUT) else 0
        )
        current = self._watched.get(fd, 0)
        if wanted & _READ and not current & _READ:
            self._loop.add_reader(fd, self._act, fd, pycurl.CSELECT_IN)
        elif current & _READ and not wanted & _READ:
            self._loop.remove_reader(fd)
        if wanted & _WRITE and not current & _WRITE:
            self._loop.add_writer(fd, self._act, fd, pycurl.CSELECT_OUT)
        elif current & _WRITE and not wanted & _WRITE:
            self._loop.remove_writer(fd)
        self._watched[fd] = wanted

    def _unwatch(self, fd: int) -> None:
        current = self._watched.pop(fd, 0)
        if current & _READ:
            self._loop.remove_reader(fd)
        if current & _WRITE:
            self._loop.remove_writer(fd)

    def _on_timer(self, milliseconds: int) -> None:
        """libcurl's next timeout; it is acted on from the loop, never inside this callback. libcurl
        asks for "now" (0 ms) around most transfers: that is a plain callback, not a timer in the
        loop's heap (cancelled timers stay there until they come due)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if milliseconds == 0:
            self._timer = self._loop.call_soon(self._act, pycurl.SOCKET_TIMEOUT, 0)
        elif milliseconds > 0:
            self._timer = self._loop.call_later(milliseconds / 1000, self._act, pycurl.SOCKET_TIMEOUT, 0)

    def _act(self, fd: int, events: int) -> None:
        if self._closed:
            return
        while True:
            status, _ = self._multi.socket_action(fd, events)
            if status != pycurl.E_CALL_MULTI_PERFORM:
                break
        self._complete()

    def _complete(self) -> None:
        while True:
            queued, succeeded, failed = self._multi.info_read()
            for easy in succeeded:
                self._finish(easy, None)
            for easy, code, message in failed:
                self._finish(easy, CurlError(code, message))
            if not queued:
                return

    def _finish(self, easy: pycurl.Curl, error: CurlError | None) -> None:
        done = self._waiting.pop(easy, None)
        if done is None:
            return
        with contextlib.suppress(pycurl.error):
            self._multi.remove_handle(easy)
        if done.done():
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
