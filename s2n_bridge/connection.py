"""``Connection``: one s2n-tls connection, in memory or over a file descriptor.

In memory, bytes s2n writes are collected in ``outgoing`` (one entry per send
call) and bytes for s2n to read are given with ``feed()``. Every call into s2n
first selects this connection's random stream (``docs/determinism.md``), and
blinding is always self-service: s2n never sleeps after an error.

>>> with Connection(config, Mode.CLIENT, seed=7, server_name="localhost") as client:  # doctest: +SKIP
...     client.negotiate()   # False: blocked, waiting for the server's flight
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from engine.crypto.signer import SignatureScheme
from engine.randomness import OsRandomSource, RandomSource, StreamLabel
from s2n_bridge._native import native
from s2n_bridge.config import Config
from s2n_bridge.errors import S2NClosedError, S2NError, S2NUsageError, error_from_errno
from s2n_bridge.info import ConnectionInfo, Progress, read_info, read_progress, selected_signature_scheme
from s2n_bridge.rng import BridgeStream

__all__ = ["Connection", "Mode", "RecordSize"]

_MAX_PLAINTEXT = 16384  # one TLS record's worth: what s2n_recv returns at most per call


class Mode(Enum):
    """Which side of the handshake a connection plays."""

    CLIENT = StreamLabel.CLIENT
    SERVER = StreamLabel.SERVER


class RecordSize(Enum):
    """s2n's record sizing: its default, ``prefer_throughput`` or ``prefer_low_latency``."""

    DEFAULT = "default"
    THROUGHPUT = "throughput"
    LOW_LATENCY = "low_latency"


class Connection:
    """An owned ``struct s2n_connection``; close it (or use ``with``) to free it."""

    def __init__(
        self,
        config: Config,
        mode: Mode,
        *,
        seed: int | None = None,
        server_name: str | None = None,
        fd: int | None = None,
        record_size: RecordSize = RecordSize.DEFAULT,
    ) -> None:
        self._ffi, self._lib = native()
        self._ptr: Any = self._ffi.NULL
        self.config = config
        self.mode = mode
        self._in_memory = fd is None
        self.stream = BridgeStream(seed, mode.value) if seed is not None else None
        self.outgoing: list[bytes] = []
        # Bytes from the peer, read by s2n in C (tlsdiff_memory_recv); the buffer grows as fed.
        self._input = self._ffi.new("struct tlsdiff_input *")
        self._input_buffer: Any = self._ffi.new("uint8_t[]", _MAX_PLAINTEXT)
        self._input.data = self._input_buffer
        self._input_capacity = _MAX_PLAINTEXT
        self._recv_buffer = self._ffi.new("uint8_t[]", _MAX_PLAINTEXT)
        self._error_type = self._ffi.new("int *")
        self._serialized = False
        self._fresh = True  # as s2n_connection_new left it (or s2n_connection_wipe): what restore() needs
        self._callback_error: BaseException | None = None
        self._handle = self._ffi.new_handle(self)
        s2n_mode = self._lib.S2N_CLIENT if mode is Mode.CLIENT else self._lib.S2N_SERVER
        self._ptr = self._call_pointer(lambda: self._lib.s2n_connection_new(s2n_mode), "s2n_connection_new")
        try:
            self._setup(server_name, fd, record_size)
        except BaseException:
            self.close()
            raise

    def _setup(self, server_name: str | None, fd: int | None, record_size: RecordSize) -> None:
        lib = self._lib
        if fd is None:
            # Config, blinding, ctx and the in-memory callbacks in one call (tlsdiff_memory_setup).
            self._call(lib.tlsdiff_memory_setup, "set up in memory", self.config.pointer, self._handle, self._input)
        else:
            self._call(lib.s2n_connection_set_config, "set config", self.config.pointer)
            self._call(lib.s2n_connection_set_blinding, "set blinding", lib.S2N_SELF_SERVICE_BLINDING)
            self._call(lib.s2n_connection_set_ctx, "set ctx", self._handle)
            self._call(lib.s2n_connection_set_fd, "set fd", fd)
        if server_name is not None:
            self._call(lib.s2n_set_server_name, "set server name", server_name.encode())
        self._set_record_size(record_size)

    def _set_record_size(self, record_size: RecordSize) -> None:
        lib = self._lib
        if record_size is RecordSize.THROUGHPUT:
            self._call(lib.s2n_connection_prefer_throughput, "prefer throughput")
        elif record_size is RecordSize.LOW_LATENCY:
            self._call(lib.s2n_connection_prefer_low_latency, "prefer low latency")

    # ---- calling into s2n ----

    @property
    def pointer(self) -> Any:
        """The ``struct s2n_connection *``; valid until ``close()`` or ``serialize()``."""
        if self._ptr == self._ffi.NULL:
            raise S2NUsageError("S2N_ERR_NULL", "connection is closed", call="Connection.pointer")
        if self._serialized:
            # s2n closed it and wiped its keys (tls/s2n_connection_serialize.c:185-186): a send would
            # fail, a shutdown would write a plaintext close_notify, and the getters read wiped state.
            raise S2NClosedError(
                "S2N_ERR_CLOSED", "connection was serialized; use a deserialized copy", call="Connection.pointer"
            )
        return self._ptr

    def _select(self) -> Any:
        return self._lib.tlsdiff_select(self.stream.memory if self.stream is not None else self._ffi.NULL)

    def _raise_pending(self) -> None:
        if self._callback_error is not None:
            error, self._callback_error = self._callback_error, None
            raise error

    def _error(self, call: str) -> S2NError:
        errno = self._lib.s2n_errno_location()[0]  # per thread: read before anything else
        alert = self._lib.s2n_connection_get_alert(self._ptr) if self._ptr != self._ffi.NULL else -1
        return error_from_errno(self._ffi, self._lib, errno, call, alert=alert if alert >= 0 else None)

    def _call_pointer(self, function: Callable[[], Any], call: str) -> Any:
        previous = self._select()
        try:
            pointer = function()
            if pointer == self._ffi.NULL:
                raise self._error(call)
            return pointer
        finally:
            self._lib.tlsdiff_select(previous)

    def _call(self, function: Callable[..., int], call: str, *args: Any) -> int:
        """Call ``function(conn, *args)`` with this connection's stream selected; raise on failure."""
        return self._invoke(function, call, args, blocking_ok=False)[0]

    def _call_blocking(self, function: Callable[..., int], call: str, *args: Any) -> tuple[int, bool]:
        """Like ``_call``, but report "would block" as ``(result, True)`` instead of raising."""
        return self._invoke(function, call, args, blocking_ok=True)

    def _invoke(
        self, function: Callable[..., int], call: str, args: tuple[Any, ...], *, blocking_ok: bool
    ) -> tuple[int, bool]:
        lib = self._lib
        previous = self._select()
        try:
            result = function(self.pointer, *args)
            # Blocking is the common answer (every partial flight): tell it by the errno's type
            # rather than by building and catching an exception.
            blocked = result < 0 and lib.s2n_error_get_type(lib.s2n_errno_location()[0]) == lib.S2N_ERR_T_BLOCKED
            error = self._error(call) if result < 0 and not (blocked and blocking_ok) else None
        finally:
            lib.tlsdiff_select(previous)
        self._raise_pending()
        if error is not None:
            raise error
        return (-1, True) if blocked else (result, False)

    # ---- the TLS verbs ----

    def negotiate(self) -> bool:
        """Advance the handshake: True when complete, False when blocked on I/O."""
        self._fresh = False
        blocked = self._ffi.new("s2n_blocked_status *")
        _, would_block = self._call_blocking(self._lib.s2n_negotiate, "s2n_negotiate", blocked)
        return not would_block

    def send(self, data: bytes) -> int:
        """Send application data; return how many bytes s2n took (0 when blocked)."""
        self._fresh = False
        blocked = self._ffi.new("s2n_blocked_status *")
        buffer = self._ffi.from_buffer(data)
        result, would_block = self._call_blocking(self._lib.s2n_send, "s2n_send", buffer, len(data), blocked)
        return 0 if would_block else result

    def recv(self, max_size: int = _MAX_PLAINTEXT) -> bytes | None:
        """Receive up to ``min(max_size, 16384)`` bytes: data, ``b""`` once the peer closed, None when blocked."""
        lib, buffer, error_type = self._lib, self._recv_buffer, self._error_type
        stream = self.stream.memory if self.stream is not None else self._ffi.NULL
        # One C call selects the stream, reads and tells the error's type (the hot path of a fuzz run).
        result = lib.tlsdiff_recv(stream, self.pointer, buffer, min(max_size, _MAX_PLAINTEXT), error_type)
        error = self._error("s2n_recv") if result < 0 and error_type[0] != lib.S2N_ERR_T_BLOCKED else None
        self._raise_pending()
        if error is not None:
            raise error
        return None if result < 0 else self._ffi.buffer(buffer, result)[:]

    def shutdown(self) -> bool:
        """Send close_notify and wait for the peer's: True when both are done, False when blocked."""
        blocked = self._ffi.new("s2n_blocked_status *")
        _, would_block = self._call_blocking(self._lib.s2n_shutdown, "s2n_shutdown", blocked)
        return not would_block

    def shutdown_send(self) -> bool:
        """Send close_notify only (half close): True when sent, False when blocked."""
        blocked = self._ffi.new("s2n_blocked_status *")
        _, would_block = self._call_blocking(self._lib.s2n_shutdown_send, "s2n_shutdown_send", blocked)
        return not would_block

    def send_pending_alert(self) -> bytes:
        """After a failure: pass the blinding delay on the config's clock (no sleep), let s2n
        write the alert it chose (or close_notify), and return the bytes written."""
        self.config.advance_clock(self.blinding_delay_ns + 1)
        self.shutdown_send()
        return self.take_outgoing()

    def request_key_update(self, *, peer_update: bool = False) -> None:
        """Schedule a KeyUpdate, sent with the next record."""
        lib = self._lib
        request = lib.S2N_KEY_UPDATE_REQUESTED if peer_update else lib.S2N_KEY_UPDATE_NOT_REQUESTED
        self._call(lib.s2n_connection_request_key_update, "request key update", request)

    # ---- snapshots: s2n's connection serialization ----

    def serialize(self) -> bytes:
        """Snapshot this established connection (its config needs ``serializable=True``).

        The blob holds the traffic secrets in plaintext and no MAC (api/s2n.h:4016-4051): keep
        it in memory. s2n then closes this connection and wipes its keys
        (tls/s2n_connection_serialize.c:177-186), so every later call on it raises
        ``S2NClosedError``; ``take_outgoing()`` still returns what it wrote before. Restore
        copies with ``Connection.deserialize``.

        >>> blob = server.serialize()  # doctest: +SKIP
        >>> copy = Connection.deserialize(server_config, Mode.SERVER, blob, seed=7)  # doctest: +SKIP
        """
        length = self._ffi.new("uint32_t *")
        self._call(self._lib.s2n_connection_serialization_length, "s2n_connection_serialization_length", length)
        if self._input.end > self._input.start:
            # s2n refuses to serialize with input buffered inside it (tls/s2n_connection_serialize.c:137-139);
            # bytes fed but not yet read sit outside it, where a snapshot would silently drop them.
            raise S2NUsageError("S2N_ERR_INVALID_STATE", "fed bytes not read yet; recv() first", call="serialize")
        buffer = self._ffi.new("uint8_t[]", length[0])
        self._call(self._lib.s2n_connection_serialize, "s2n_connection_serialize", buffer, length[0])
        self._serialized = True
        return bytes(self._ffi.buffer(buffer, length[0]))

    @classmethod
    def deserialize(
        cls,
        config: Config,
        mode: Mode,
        blob: bytes,
        *,
        seed: int | None = None,
        record_size: RecordSize = RecordSize.DEFAULT,
    ) -> Connection:
        """A fresh connection restored from a ``serialize()`` blob, ready for application data.

        Set up as the constructor sets up an in-memory connection (config, callbacks,
        self-service blinding, seeded stream), then ``s2n_connection_deserialize``. The blob
        carries the original's record size limit, which ``RecordSize.DEFAULT`` keeps; another
        ``record_size`` is applied after it and wins. s2n restores only the record layer:
        ``negotiate()`` returns True at once, and ``info()`` describes a new connection except
        for protocol and cipher (``docs/bridge.md``). A blob s2n cannot parse raises
        ``S2NUsageError`` (``S2N_ERR_INVALID_SERIALIZED_CONNECTION``); a parsable but altered
        one is used as-is and fails at the first record.
        """
        connection = cls(config, mode, seed=seed)
        try:
            connection.restore(blob, record_size=record_size)
        except BaseException:
            connection.close()
            raise
        return connection

    def restore(self, blob: bytes, *, record_size: RecordSize = RecordSize.DEFAULT) -> None:
        """Restore a ``serialize()`` blob into this connection, new or just ``wipe()``d (as ``deserialize``).

        A connection that has done anything else since refuses (``S2NUsageError``): s2n would
        lay the blob over what it holds.
        """
        if not self._fresh:
            raise S2NUsageError("S2N_ERR_INVALID_STATE", "restore needs a new or wiped connection", call="restore")
        self._fresh = False
        # A private copy: s2n takes a mutable pointer, and a ``bytes`` object must never be written
        # through. One byte at least, so an empty blob is a parse error rather than a NULL buffer.
        buffer = self._ffi.new("uint8_t[]", max(len(blob), 1))
        self._ffi.memmove(buffer, blob, len(blob))
        self._call(self._lib.s2n_connection_deserialize, "s2n_connection_deserialize", buffer, len(blob))
        # After the restore: s2n_connection_deserialize sets the fragment length from the blob
        # (tls/s2n_connection_serialize.c:443), which would undo an earlier preference.
        self._set_record_size(record_size)

    def wipe(self) -> None:
        """Make this in-memory connection new again, its memory kept: what a fuzz run restoring one
        connection per input saves over freeing it and making another.

        ``s2n_connection_wipe`` erases the secrets and every bit of state but the config and
        mode; it is how ``s2n_connection_new`` itself ends (tls/s2n_connection.c:111-117), so
        the connection is then what a new one would be. The bridge then sets it up in memory
        again and restarts its seeded stream: the next handshake or ``restore`` draws and
        behaves as on a new ``Connection(config, mode, seed=...)``, with no server name and the
        default record size (a ``server_name`` or ``record_size`` given at construction is gone).
        """
        if not self._in_memory:
            raise S2NUsageError("S2N_ERR_INVALID_STATE", "only an in-memory connection is wiped", call="wipe")
        if self._ptr == self._ffi.NULL:
            raise S2NUsageError("S2N_ERR_NULL", "connection is closed", call="wipe")
        self._serialized = False  # s2n_connection_wipe makes a serialized connection usable again
        self._call(self._lib.s2n_connection_wipe, "s2n_connection_wipe")
        if self.stream is not None:
            self.stream.restart()
        self.outgoing.clear()
        source = self._input
        source.start = source.end = source.eof = 0
        self._callback_error = None
        self._setup(None, None, RecordSize.DEFAULT)
        self._fresh = True

    # ---- in-memory I/O ----

    def feed(self, data: bytes) -> None:
        """Give s2n bytes from the peer (in-memory mode)."""
        self._fresh = False
        source = self._input
        pending = source.end - source.start
        if source.end + len(data) > self._input_capacity:
            # Move what is unread to the front, into a larger buffer if it would not fit.
            if pending + len(data) > self._input_capacity:
                self._input_capacity = max(2 * self._input_capacity, pending + len(data))
                buffer = self._ffi.new("uint8_t[]", self._input_capacity)
            else:
                buffer = self._input_buffer
            self._ffi.memmove(buffer, source.data + source.start, pending)
            self._input_buffer = source.data = buffer
            source.start, source.end = 0, pending
        self._ffi.memmove(source.data + source.end, data, len(data))
        source.end += len(data)

    def feed_eof(self) -> None:
        """Tell s2n the peer's byte stream has ended (in-memory mode)."""
        self._input.eof = 1

    def take_outgoing(self) -> bytes:
        """Everything s2n has written since the last call, joined."""
        data = b"".join(self.outgoing)
        self.outgoing.clear()
        return data

    def _io_send(self, ffi: Any, buf: Any, length: int) -> int:
        self.outgoing.append(ffi.buffer(buf, length)[:])
        return length

    def _guarded(self, callback: Callable[[], int]) -> int:
        """Run a callback from C; keep any exception for the bridge to re-raise when s2n returns."""
        try:
            return callback()
        except BaseException as error:  # re-raised when s2n returns
            self._callback_error = error
            return -1

    # ---- signing through the async private-key callback ----

    def _async_pkey(self, op: Any) -> int:
        def sign() -> int:
            self._sign(op)
            return 0

        try:
            return self._guarded(sign)
        finally:
            self._lib.s2n_async_pkey_op_free(op)

    def _sign(self, op: Any) -> None:
        ffi, lib = self._ffi, self._lib
        op_type = ffi.new("s2n_async_pkey_op_type *")
        self._check_op(lib.s2n_async_pkey_op_get_op_type(op, op_type), "op type")
        if op_type[0] != lib.S2N_ASYNC_SIGN:
            raise S2NUsageError("S2N_ERR_UNIMPLEMENTED", "only signing is offloaded in TLS 1.3", call="pkey")
        size = ffi.new("uint32_t *")
        self._check_op(lib.s2n_async_pkey_op_get_input_size(op, size), "input size")
        digest = ffi.new("uint8_t[]", size[0])
        self._check_op(lib.s2n_async_pkey_op_get_input(op, digest, size[0]), "input")
        signer = self.config.signer_for(lib.s2n_connection_get_selected_cert(self._ptr))
        if signer is None:
            raise S2NUsageError("S2N_ERR_NULL", "no signer for the selected certificate", call="pkey")
        random: RandomSource = self.stream if self.stream is not None else OsRandomSource()
        signature = signer.sign_digest(self._signature_scheme(), bytes(ffi.buffer(digest, size[0])), random)
        self._check_op(lib.s2n_async_pkey_op_set_output(op, signature, len(signature)), "set output")
        self._check_op(lib.s2n_async_pkey_op_apply(op, self._ptr), "apply")

    def _check_op(self, result: int, call: str) -> None:
        if result < 0:
            raise self._error(f"async pkey {call}")

    def _signature_scheme(self) -> SignatureScheme:
        scheme = selected_signature_scheme(self._ffi, self._lib, self._ptr, client_cert=self.mode is Mode.CLIENT)
        if scheme is None:
            raise S2NUsageError("S2N_ERR_INVALID_SIGNATURE_SCHEME", "s2n selected no signature scheme", call="pkey")
        return scheme

    # ---- state ----

    def info(self) -> ConnectionInfo:
        """What was negotiated, and where the state machine stands (s2n's names)."""
        return read_info(self)

    def progress(self) -> Progress:
        """Only where the state machine stands: protocol, handshake type, last message (``info()``'s names)."""
        return read_progress(self)

    def client_hello(self) -> bytes:
        """The raw ClientHello this server received (no handshake header; s2n zeroes the random)."""
        client_hello = self._lib.s2n_connection_get_client_hello(self.pointer)
        if client_hello == self._ffi.NULL:
            raise self._error("s2n_connection_get_client_hello")
        length = self._lib.s2n_client_hello_get_raw_message_length(client_hello)
        buffer = self._ffi.new("uint8_t[]", max(length, 1))
        copied = self._lib.s2n_client_hello_get_raw_message(client_hello, buffer, length)
        if copied < 0:
            raise self._error("s2n_client_hello_get_raw_message")
        return bytes(self._ffi.buffer(buffer, copied))

    @property
    def blinding_delay_ns(self) -> int:
        """The delay s2n asks a self-service caller to wait after an error (the bridge never waits)."""
        return int(self._lib.s2n_connection_get_delay(self.pointer))

    def close(self) -> None:
        """Free the connection (idempotent). Its config stays owned by the caller."""
        if self._ptr != self._ffi.NULL:
            self._lib.s2n_connection_free(self._ptr)
            self._ptr = self._ffi.NULL

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A safety net only: the bridge's own code always closes explicitly.
        if getattr(self, "_ptr", None) is not None and self._ptr != self._ffi.NULL:
            self.close()
