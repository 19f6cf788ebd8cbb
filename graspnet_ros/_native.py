"""Import helpers for native libraries with system dependencies.

open3d and pyrealsense2 link against ``libusb-1.0.so.0``. A Debian machine
gets it from ``apt-get install libusb-1.0-0``; where that is missing, the
copy shipped by the PyPI package ``libusb-package`` is loaded first so the
dynamic linker finds it by soname.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def ensure_libusb() -> None:
    if ctypes.util.find_library("usb-1.0"):
        return
    try:
        import libusb_package
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ImportError(
            "libusb-1.0 is missing: run `apt-get install libusb-1.0-0` "
            "or `pip install libusb-package`") from exc
    path = libusb_package.get_library_path()
    if path is None:  # pragma: no cover
        raise ImportError("libusb-package ships no library for this platform; "
                          "run `apt-get install libusb-1.0-0`")
    ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)


def import_open3d():
    """Import and return the open3d module (loading libusb first if needed)."""
    ensure_libusb()
    import open3d

    return open3d
