"""The wire envelope: round trip, strict decoding of hostile bytes, replay protection."""

from __future__ import annotations

import os

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultsync.sync import wire


def _raw(items: list[object]) -> bytes:
    return msgpack.packb(items, use_bin_type=True)


def _good_items() -> list[object]:
    return [wire.WIRE_VERSION, wire.REQUEST, 7, 1_700_000_000_000, os.urandom(16), "push", {"a": 1}]


def test_round_trip_keeps_every_field() -> None:
    env = wire.request(42, "recon.rows", {"rows": [b"\x00\x01", "x", 3, None, 1.5, {"k": [True]}]})
    back = wire.decode(wire.encode(env))
    assert back == env
    rep = wire.reply_to(back, {"ok": True})
    assert (rep.type, rep.request_id, rep.kind) == (wire.REPLY, 42, "recon.rows")
    err = wire.decode(wire.encode(wire.error_to(back, "nope")))
    assert err.is_error and err.payload == {"reason": "nope"}


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda it: it.__setitem__(0, 2), "wire version"),
        (lambda it: it.__setitem__(1, 9), "message type"),
        (lambda it: it.__setitem__(2, -1), "request id"),
        (lambda it: it.__setitem__(2, "7"), "request id"),
        (lambda it: it.__setitem__(3, -5), "timestamp"),
        (lambda it: it.__setitem__(4, b"short"), "nonce"),
        (lambda it: it.__setitem__(5, "DROP TABLE"), "kind"),
        (lambda it: it.__setitem__(5, "a" * 200), "kind"),
        (lambda it: it.__setitem__(6, [1, 2]), "payload"),
        (lambda it: it.append("extra"), "7-item"),
        (lambda it: it.pop(), "7-item"),
    ],
)
def test_malformed_envelopes_are_refused_with_a_reason(mutate, why) -> None:  # type: ignore[no-untyped-def]
    items = _good_items()
    mutate(items)
    with pytest.raises(wire.WireError, match=why):
        wire.decode(_raw(items))


def test_non_string_map_keys_and_ext_types_are_refused() -> None:
    items = _good_items()
    items[6] = {1: "x"}
    with pytest.raises(wire.WireError):
        wire.decode(_raw(items))
    items = _good_items()
    items[6] = {"x": msgpack.ExtType(5, b"boom")}
    with pytest.raises(wire.WireError):
        wire.decode(_raw(items))


def test_oversized_messages_are_refused_before_unpacking() -> None:
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.decode(b"\x00" * (wire.MAX_MESSAGE_BYTES + 1))
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.encode(wire.request(1, "push", {"blob": b"x" * wire.MAX_MESSAGE_BYTES}))


def test_a_header_announcing_a_huge_string_does_not_allocate_it() -> None:
    # str32 header claiming 4 GB followed by nothing
    with pytest.raises(wire.WireError):
        wire.decode(b"\x97\x01\x01\x01\x01\xc4\x10" + b"\x00" * 16 + b"\xdb\xff\xff\xff\xff")


def test_unencodable_payloads_are_refused_by_the_sender() -> None:
    with pytest.raises(wire.WireError, match="cannot be encoded"):
        wire.encode(wire.request(1, "push", {"x": object()}))
    with pytest.raises(wire.WireError, match="kind"):
        wire.encode(wire.request(1, "Bad Kind", {}))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    try:
        env = wire.decode(data)
    except wire.WireError:
        return
    assert isinstance(env.payload, dict)


def test_replay_guard_refuses_a_second_delivery_and_stale_or_future_stamps() -> None:
    guard = wire.ReplayGuard(skew_ms=60_000)
    env = wire.request(1, "push", {})
    guard.check(env, now_ms=env.sent_at_ms)
    with pytest.raises(wire.WireError, match="replayed"):
        guard.check(env, now_ms=env.sent_at_ms + 10)
    old = wire.Envelope(wire.REQUEST, 2, "push", {}, sent_at_ms=1_000)
    with pytest.raises(wire.WireError, match="stale"):
        guard.check(old, now_ms=1_000 + 61_000)
    future = wire.Envelope(wire.REQUEST, 3, "push", {}, sent_at_ms=200_000)
    with pytest.raises(wire.WireError, match="stale"):
        guard.check(future, now_ms=100_000)


def test_replay_guard_memory_is_bounded() -> None:
    guard = wire.ReplayGuard(skew_ms=60_000, capacity=100)
    base = 10_000_000
    for i in range(1000):
        guard.check(wire.Envelope(wire.REQUEST, i, "push", {}, sent_at_ms=base + i), now_ms=base + i)
    assert len(guard._seen) <= 100
    # a message older than what was forgotten is refused rather than risk a replay
    with pytest.raises(wire.WireError):
        guard.check(wire.Envelope(wire.REQUEST, 1, "push", {}, sent_at_ms=base + 5), now_ms=base + 1000)
