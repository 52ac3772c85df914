"""Channel names to NATS subjects: valid subjects, one per channel, and back exactly."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sioadapter.backends._nats_subjects import channel_to_subject, subject_to_channel

# What a NATS subject may hold without meaning anything special: tokens of letters, digits,
# '-' and '_', separated by single dots (no empty token, no '*', '>', whitespace or '$').
VALID_SUBJECT = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


@pytest.mark.parametrize(
    ("channel", "subject"),
    [
        ("socket.io#/#", "socket_2Eio._2F._"),
        ("socket.io#/chat#room 1#", "socket_2Eio._2Fchat.room_201._"),
        ("socket.io#/#AbC-12_x#", "socket_2Eio._2F.AbC-12_5Fx._"),
        ("k#/#*>#", "k._2F._2A_3E._"),
        ("k#/#é#", "k._2F._C3_A9._"),
        ("", "_"),
    ],
)
def test_the_documented_examples(channel: str, subject: str) -> None:
    assert channel_to_subject(channel) == subject
    assert subject_to_channel(subject) == channel


@given(st.text())
def test_every_channel_maps_to_a_valid_subject_and_back(channel: str) -> None:
    subject = channel_to_subject(channel)
    assert VALID_SUBJECT.fullmatch(subject), subject
    assert subject_to_channel(subject) == channel


@given(st.text(), st.text())
def test_two_channels_never_share_a_subject(first: str, second: str) -> None:
    if first != second:
        assert channel_to_subject(first) != channel_to_subject(second)


def test_a_lone_surrogate_in_a_room_name_survives() -> None:
    channel = "k#/#\ud800#"
    assert subject_to_channel(channel_to_subject(channel)) == channel


@pytest.mark.parametrize("subject", ["a..b", "a._2", "a._ZZ", "a.b*", "a b", "_C3"])
def test_subjects_no_channel_maps_to_are_refused(subject: str) -> None:
    with pytest.raises(ValueError, match="subject token"):
        subject_to_channel(subject)


def test_the_subject_cache_is_bounded_and_stays_right() -> None:
    # Room names are arbitrary: remembering every channel ever published would grow forever.
    from sioadapter.backends import _nats_subjects

    channels = [f"socket.io#/#room {i}#" for i in range(_nats_subjects._CACHE_LIMIT + 100)]
    for channel in channels:
        channel_to_subject(channel)
    assert len(_nats_subjects._subjects) <= _nats_subjects._CACHE_LIMIT
    for i, channel in enumerate(channels[::-1][:200]):  # hits and misses alike
        assert channel_to_subject(channel) == _nats_subjects._map_channel(channel)
        assert subject_to_channel(channel_to_subject(channel)) == channel, i
