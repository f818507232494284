"""libcurl's multi interface (pycurl) driven by the asyncio event loop: feed_ingest's HTTP engine.

Why libcurl and not aiohttp for feeds: most polls are a conditional GET answered 304, and a
worker makes thousands a second. Through aiohttp's request and response machinery such a fetch
cost ~450 µs of CPU; through libcurl, driven from the loop here, 100–225 µs (bench/README.md). libcurl
keeps the connections (keep-alive, the per-host and total limits); `services.feed_ingest.fetch`
keeps Herald's rules: which addresses may be connected to, how big and how slow a response may
be, what each failure is called.

How it runs (libcurl's "multi_socket" API): libcurl says which sockets to watch and when its next
timeout is (`_on_socket`, `_on_timer`); the loop calls back when a socket is ready or the timer
fires, and `_act` lets libcurl proceed, then completes the futures of finished transfers. No
threads, no polling.

Two things keep the loop's own bookkeeping per request small (at thousands of 304s a second it
was a third of a fetch's CPU):
- libcurl drops its interest in a kept-alive connection after each response and takes it up again
  for the next request on it. The loop's registration stays meanwhile ("parked"): a parked
  socket that stirs (the server closing it) is unregistered then, and libcurl reports every
  socket it closes (`socket_closed`, its CLOSESOCKETFUNCTION), so no registration outlives its
  socket.
- libcurl moves its timeout on almost every step. One loop timer serves all: a later timeout
  keeps it (it fires early, finds nothing due and re-arms), only an earlier one replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings

import pycurl

_READ, _WRITE = 1, 2
#: A timeout acted on this much early is acted on (libcurl then finds nothing due and says when).
_EARLY = 0.001


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
        self._parked: set[int] = set()  # registered, but libcurl has no interest in them now
        self._open: set[int] = set()  # sockets libcurl has told about and not closed yet
        self._waiting: dict[pycurl.Curl, asyncio.Future[None]] = {}
        self._timer: asyncio.TimerHandle | None = None  # the one loop timer, due at `_timer_at`
        self._timer_at = 0.0
        self._due: float | None = None  # when libcurl wants its timeout (loop time), if at all
        self._soon: asyncio.Handle | None = None  # libcurl asked to act "now"
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
        for handle in (self._timer, self._soon):
            if handle is not None:
                handle.cancel()
        for fd in list(self._watched):
            self._unwatch(fd)
        sockets = {fd: _inode(fd) for fd in self._open}
        self._open.clear()
        with warnings.catch_warnings():
            # pycurl cannot always run CLOSESOCKETFUNCTION from the multi handle's cleanup (no
            # thread state then): it warns, and that connection's socket is left open.
            warnings.simplefilter("ignore", RuntimeWarning)
            self._multi.close()
        for fd, inode in sockets.items():
            if inode is not None and _inode(fd) == inode:  # still that socket, not a reused number
                os.close(fd)

    def socket_closed(self, fd: int) -> int:
        """libcurl's CLOSESOCKETFUNCTION (set on each easy handle): unregister, then close."""
        self._unwatch(fd)
        self._open.discard(fd)
        os.close(fd)
        return 0

    # --- libcurl's callbacks ------------------------------------------------------------------
    def _on_socket(self, what: int, fd: int, multi: object, data: object) -> None:
        if what == pycurl.POLL_REMOVE:
            if fd in self._watched:
                self._parked.add(fd)  # usually taken up again by the next request on it
            return
        self._parked.discard(fd)
        self._open.add(fd)
        wanted = (_READ if what in (pycurl.POLL_IN, pycurl.POLL_INOUT) else 0) | (
            _WRITE if what in (pycurl.POLL_OUT, pycurl.POLL_INOUT) else 0
        )
        current = self._watched.get(fd, 0)
        if wanted == current:
            return
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
        self._parked.discard(fd)
        current = self._watched.pop(fd, 0)
        if current & _READ:
            self._loop.remove_reader(fd)
        if current & _WRITE:
            self._loop.remove_writer(fd)

    def _on_timer(self, milliseconds: int) -> None:
        """libcurl's next timeout (-1: none); acted on from the loop, never inside this callback.
        "Now" (0 ms, around most transfers) is a plain callback, not a timer in the loop's heap."""
        if milliseconds < 0:
            self._due = None
        elif milliseconds == 0:
            self._due = None
            if self._soon is None:
                self._soon = self._loop.call_soon(self._act_soon)
        else:
            due = self._due = self._loop.time() + milliseconds / 1000
            if self._timer is None or self._timer_at > due:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer_at = due
                self._timer = self._loop.call_at(due, self._on_timer_due)

    def _act_soon(self) -> None:
        self._soon = None
        self._act(pycurl.SOCKET_TIMEOUT, 0)

    def _on_timer_due(self) -> None:
        self._timer = None
        due = self._due
        if due is None:
            return
        if due > self._loop.time() + _EARLY:  # libcurl moved its timeout later meanwhile: wait for it
            self._timer_at = due
            self._timer = self._loop.call_at(due, self._on_timer_due)
            return
        self._due = None
        self._act(pycurl.SOCKET_TIMEOUT, 0)

    def _act(self, fd: int, events: int) -> None:
        if self._closed:
            return
        if fd in self._parked:  # an idle kept-alive connection stirred: usually its server closing it
            self._unwatch(fd)  # libcurl finds out when it next tries the connection
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


def _inode(fd: int) -> int | None:
    try:
        return os.fstat(fd).st_ino
    except OSError:
        return None
