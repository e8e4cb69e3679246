"""SMS encoding and segment counting: GSM-7 (with its extension table) or UCS-2."""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 default alphabet (the escape character 0x1B left out: it is not a text character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the extension table: each is sent as escape + character, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SegmentInfo:
    """How a text travels: its encoding, its length in that encoding and the parts it needs."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    per_segment: int
    remaining: int  # units still free in the last segment
    ucs2_characters: tuple[str, ...] = ()  # the characters that forced UCS-2

    def as_dict(self) -> dict[str, object]:
        """Plain values, e.g. for the template editor's counter."""
        return {
            "encoding": self.encoding,
            "units": self.units,
            "segments": self.segments,
            "per_segment": self.per_segment,
            "remaining": self.remaining,
            "ucs2_characters": list(self.ucs2_characters),
        }


def is_gsm7(text: str) -> bool:
    """True when every character exists in the GSM-7 alphabet or its extension table."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def count_segments(text: str) -> SegmentInfo:
    """Encoding, length and number of SMS parts of `text`.

    One SMS holds 160 GSM-7 septets or 70 UCS-2 units; a concatenated message holds 153 / 67
    per part (the rest carries the part header). An extension character (escape + char) and a
    UCS-2 surrogate pair (emoji) are never split across two parts, so they can open a new part
    early, as phones and gateways do.
    """
    if is_gsm7(text):
        widths = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return _count("GSM-7", widths, GSM7_SINGLE, GSM7_PART, ())
    widths = [2 if ord(c) > 0xFFFF else 1 for c in text]
    offenders = tuple(dict.fromkeys(c for c in text if c not in GSM7_BASIC | GSM7_EXTENSION))
    return _count("UCS-2", widths, UCS2_SINGLE, UCS2_PART, offenders)


def _count(
    encoding: str, widths: list[int], single: int, part: int, offenders: tuple[str, ...]
) -> SegmentInfo:
    units = sum(widths)
    if units <= single:
        return SegmentInfo(encoding, units, 1 if units else 0, single, single - units, offenders)
    segments, used = 1, 0
    for width in widths:
        if used + width > part:
            segments += 1
            used = 0
        used += width
    return SegmentInfo(encoding, units, segments, part, part - used, offenders)
