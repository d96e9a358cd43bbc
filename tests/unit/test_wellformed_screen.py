"""The column-wise long-number screen never misses what its regex definition finds.

``has_long_number`` is what the fast readers run over every chunk; the regex
``LONG_NUMBER`` is its plain statement. Random byte strings drawn from the
characters that matter (digits, minus, the bytes that may stand before a
number, letters, quotes) must get the same answer from both.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from wiber_harness.wellformed import LONG_NUMBER, has_digit_run, has_long_number

PIECES = st.lists(
    st.one_of(
        st.sampled_from([b":", b",", b"[", b" ", b"\n", b"\t", b"-", b'"', b"a", b"{", b"}"]),
        st.integers(0, 10**25).map(lambda n: str(n).encode()),
        st.just(b"9" * 19),
        st.just(b"1" * 18),
    ),
    max_size=40,
)


@settings(max_examples=2000, deadline=None)
@given(PIECES)
def test_the_screen_never_misses_what_its_regex_finds(pieces: list[bytes]) -> None:
    """Sound: wherever the regex sees a long number, so does the screen. The screen may
    also say "maybe" where the regex does not (a blank or the buffer's start before the
    digits): a false alarm only costs the exact check, never a verdict."""
    text = b"".join(pieces)
    if LONG_NUMBER.search(text):
        assert has_long_number(text), text


def test_real_keys_are_not_numbers() -> None:
    line = b'{"id":1,"value":{"key":"baseline-1796433729698439220-u17-1","seq":1}}'
    assert not has_long_number(line)
    assert has_long_number(b'{"a": 99999999999999999999}')
    assert has_long_number(b'{"a":[1,-9999999999999999999]}')
    assert not has_long_number(b'{"a":"x 1234567890123456789"}'.replace(b" ", b"_"))


DIGIT_RUN = re.compile(rb"[0-9]{19}")


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 3 * 2**20),
    st.integers(0, 30),
    st.sampled_from([b"a", b"1", b'"', b"\n"]),
)
def test_the_digit_run_test_is_the_regex_across_slice_boundaries(
    at: int, length: int, filler: bytes
) -> None:
    """``has_digit_run`` reads 1 MiB slices; a run placed anywhere, also across a
    slice boundary, is found exactly when it is 19 digits or longer (the filler
    may itself be a digit, joining the run)."""
    size = 3 * 2**20 + 64
    buf = bytearray(filler * size)
    at = min(at, size - length)
    buf[at : at + length] = b"7" * length
    text = bytes(buf)
    assert has_digit_run(text) == (DIGIT_RUN.search(text) is not None)
    assert has_digit_run(memoryview(text)) == (DIGIT_RUN.search(text) is not None)


@settings(max_examples=2000, deadline=None)
@given(PIECES)
def test_the_digit_run_test_is_the_regex_on_small_text(pieces: list[bytes]) -> None:
    text = b"".join(pieces)
    assert has_digit_run(text) == (DIGIT_RUN.search(text) is not None)
    assert has_digit_run(b"") is False
