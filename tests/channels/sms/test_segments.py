"""GSM-7 / UCS-2 detection and segment counting."""

from __future__ import annotations

import pytest

from webapp.channels.sms.segments import count_segments, is_gsm7


def test_plain_ascii_fits_160_in_one_segment():
    info = count_segments("a" * 160)
    assert (info.encoding, info.units, info.segments, info.remaining) == ("GSM-7", 160, 1, 0)


def test_161_ascii_characters_need_two_parts_of_153():
    info = count_segments("a" * 161)
    assert (info.segments, info.per_segment, info.remaining) == (2, 153, 145)


def test_306_and_307_characters():
    assert count_segments("a" * 306).segments == 2
    assert count_segments("a" * 307).segments == 3


def test_german_umlauts_are_gsm7_but_not_all_accents():
    assert is_gsm7("Grüße aus Köln, Ärger? Nö. ß")
    assert not is_gsm7("Café à Montréal: ê")  # ê is not in the GSM-7 alphabet


@pytest.mark.parametrize("char", list("€[]{}|^~\\"))
def test_extension_characters_count_double(char):
    info = count_segments(char * 80)
    assert info.encoding == "GSM-7"
    assert info.units == 160
    assert info.segments == 1
    assert count_segments(char * 81).segments == 2


def test_euro_sign_pushes_a_159_character_text_over_the_limit():
    assert count_segments("a" * 159 + "x").segments == 1
    info = count_segments("a" * 159 + "€")
    assert (info.units, info.segments) == (161, 2)


def test_extension_character_is_not_split_across_parts():
    # 152 septets then "€" (2 septets): it cannot share part one, so part two starts with it.
    info = count_segments("a" * 152 + "€" + "b" * 10)
    assert info.units == 164
    assert info.segments == 2
    assert info.remaining == 153 - 12


def test_polish_text_is_ucs2_at_70():
    text = "Zażółć gęślą jaźń" + "a" * 53
    assert len(text) == 70
    info = count_segments(text)
    assert (info.encoding, info.segments, info.remaining) == ("UCS-2", 1, 0)
    assert "ż" in info.ucs2_characters
    assert count_segments(text + "a").segments == 2


def test_ucs2_parts_hold_67():
    info = count_segments("ą" * 134)
    assert (info.segments, info.per_segment, info.remaining) == (2, 67, 0)
    assert count_segments("ą" * 135).segments == 3


def test_emoji_is_two_units_and_forces_ucs2():
    info = count_segments("Paket ist da 📦")
    assert info.encoding == "UCS-2"
    assert info.units == len("Paket ist da ") + 2
    assert info.ucs2_characters == ("📦",)
    assert count_segments("a" * 68 + "📦").segments == 1
    assert count_segments("a" * 69 + "📦").segments == 2


def test_long_gsm_message_is_concatenated():
    text = "Ihre Bestellung 12345 wurde versandt. " * 20
    info = count_segments(text)
    assert info.encoding == "GSM-7"
    assert info.segments == -(-len(text) // 153)
    assert info.as_dict()["segments"] == info.segments


def test_empty_text_has_no_segments():
    assert count_segments("").segments == 0
