"""The ``extern "Python"`` callbacks s2n-tls calls, dispatched to their owners.

Each callback finds its Python owner through a cffi handle (a connection's ctx,
or the config's key-log ctx). An exception inside a callback cannot cross the C
frames, so it is stored on the connection and re-raised by the bridge when the
s2n call returns.
"""

from __future__ import annotations

from typing import Any

__all__ = ["register"]

_registered = False


def _owner(ffi: Any, handle: Any) -> Any:
    return ffi.from_handle(handle)


def register(ffi: Any) -> None:
    """Define the extern "Python" functions once per process."""
    global _registered  # noqa: PLW0603  (cffi allows one definition per process)
    if _registered:
        return
    _registered = True

    @ffi.def_extern(error=-1)  # type: ignore[untyped-decorator]
    def tlsdiff_py_send(ctx: Any, buf: Any, length: int) -> int:
        owner = _owner(ffi, ctx)
        return int(owner._guarded(lambda: owner._io_send(ffi, buf, length)))

    @ffi.def_extern(error=-1)  # type: ignore[untyped-decorator]
    def tlsdiff_py_key_log(ctx: Any, conn: Any, logline: Any, length: int) -> int:
        _owner(ffi, ctx)._key_log(bytes(ffi.buffer(logline, length)))
        return 0

    @ffi.def_extern(error=-1)  # type: ignore[untyped-decorator]
    def tlsdiff_py_async_pkey(conn: Any, op: Any) -> int:
        from s2n_bridge._native import native  # noqa: PLC0415

        _, lib = native()
        return int(_owner(ffi, lib.s2n_connection_get_ctx(conn))._async_pkey(op))

    @ffi.def_extern(error=0)  # type: ignore[untyped-decorator]
    def tlsdiff_py_verify_host(host_name: Any, length: int, data: Any) -> int:
        return int(_owner(ffi, data)._verify_host(ffi.string(host_name, length).decode("ascii", "replace")))
