"""Hand-ins written byte by byte, for the tests of what a hand-in may hold."""
from __future__ import annotations

import struct
import zlib


def raw_zip(members: list[tuple[bytes, int, int, bytes]]) -> bytes:
    """A zip (stored, no compression) of (name bytes, flag bits, external_attr, data) members, exactly
    as given: zipfile itself would re-encode names and set flags to match."""
    local, central = bytearray(), bytearray()
    for name, flags, attr, data in members:
        crc = zlib.crc32(data)
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 0x031E, 20, flags, 0, 0, 0, crc, len(data), len(data),
                               len(name), 0, 0, 0, 0, attr, len(local)) + name
        local += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, flags, 0, 0, 0, crc, len(data), len(data),
                             len(name), 0) + name + data
    return bytes(local + central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members),
                                               len(central), len(local), 0))
