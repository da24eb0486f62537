"""Page tokens: bound to the customer and the walk, and proof against tampering.

B replays A's tokens, A and B both try tokens tampered every way we could think
of, and every refusal must read exactly like the refusal of a plain forgery:
a different message for a genuine token would tell B that it was genuine.
"""

from __future__ import annotations

import base64

import pytest

from regwatch.monitoring import paging

from .isolation import (
    Fault,
    Party,
    World,
    charged,
    codes_of,
    end_day,
    fault,
    get_all_clients,
    get_changes,
    handed_over,
    next_token,
    ok,
    rename,
    texts,
    walk,
)


def refusal_of_a_forgery(world: World, who: Party) -> Fault:
    refused = fault(world.call(who, get_all_clients(1, "bm90LWEtdG9rZW4.Zm9yZ2Vk")))
    assert (refused.status, refused.code) == (500, "INVALID_PAGE_TOKEN")
    assert refused.message == paging.REFUSAL
    return refused


def test_as_page_tokens_replayed_by_b_are_refused_as_if_forged(world):
    rename(world.db, world.a_only[0], world.a_only[1], world.b_only[0])
    day = end_day(world.db)
    list_token = next_token(ok(world.call(world.a, get_all_clients(1))))
    day_token = next_token(ok(world.call(world.a, get_changes(day, 1))))

    replayed_list = fault(world.call(world.b, get_all_clients(1, list_token)))
    replayed_day = fault(world.call(world.b, get_changes(day, 1, day_token)))

    forged = refusal_of_a_forgery(world, world.b)
    assert replayed_list == forged
    assert replayed_day == forged
    assert charged(world.db, world.b.customer_id) == set()
    assert handed_over(world.db, world.b.customer_id) == set()


def test_as_own_tokens_walk_as_lists_and_days_to_the_end(world):
    rename(world.db, world.a_only[0], world.a_only[1], world.shared)
    day = end_day(world.db)

    list_pages = walk(world, world.a, lambda token: get_all_clients(1, token))
    day_pages = walk(world, world.a, lambda token: get_changes(day, 1, token))

    listed = [code for p in list_pages for code in texts(p, "r:client/r:personalCode")]
    assert listed == codes_of([*world.a_only, world.shared])
    told = [code for p in day_pages for code in texts(p, "r:person/r:personalCode")]
    assert sorted(told) == sorted(
        codes_of([world.a_only[0], world.a_only[1], world.shared])
    )


def _parts(token: str) -> tuple[bytes, bytes]:
    sealed, tag = token.split(".")
    return _unb64(sealed), _unb64(tag)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _flip(data: bytes, at_byte: int) -> bytes:
    return data[:at_byte] + bytes([data[at_byte] ^ 0x01]) + data[at_byte + 1 :]


def _swapped_payload(key: bytes, token: str) -> tuple[bytes, bytes]:
    """The plaintext of A's token, and the same with B's id in place of A's.

    The test reads it with the service's key; an attacker could guess it, since
    the layout is no secret. Either way it must not help to forge a token.
    """
    payload = paging.unseal(key, token)
    assert payload is not None and payload.count(b'"alfa"') == 1
    return payload, payload.replace(b'"alfa"', b'"beta"')


def flipped_payload_bit(token: str, other: str, key: bytes) -> str:
    sealed, tag = _parts(token)
    return _b64(_flip(sealed, len(sealed) // 2)) + "." + _b64(tag)


def customer_swapped_in_the_ciphertext(token: str, other: str, key: bytes) -> str:
    # A stream cipher is malleable: XOR in the difference of the plaintexts.
    sealed, tag = _parts(token)
    payload, swapped = _swapped_payload(key, token)
    difference = bytes(x ^ y for x, y in zip(payload, swapped, strict=True))
    forged = bytes(x ^ y for x, y in zip(sealed, difference, strict=True))
    return _b64(forged) + "." + _b64(tag)


def customer_swapped_in_clear_text(token: str, other: str, key: bytes) -> str:
    _, swapped = _swapped_payload(key, token)
    return _b64(swapped) + "." + token.split(".")[1]


def customer_swapped_and_sealed_with_another_key(
    token: str, other: str, key: bytes
) -> str:
    _, swapped = _swapped_payload(key, token)
    return paging.seal(bytes(32), swapped)


def truncated_mac(token: str, other: str, key: bytes) -> str:
    sealed, tag = _parts(token)
    return _b64(sealed) + "." + _b64(tag[: len(tag) // 2])


def mac_of_another_token(token: str, other: str, key: bytes) -> str:
    return token.split(".")[0] + "." + other.split(".")[1]


def without_a_mac(token: str, other: str, key: bytes) -> str:
    return token.split(".")[0]


def one_part_too_many(token: str, other: str, key: bytes) -> str:
    return token + "." + other.split(".")[1]


@pytest.mark.parametrize(
    "tamper",
    [
        flipped_payload_bit,
        customer_swapped_in_the_ciphertext,
        customer_swapped_in_clear_text,
        customer_swapped_and_sealed_with_another_key,
        truncated_mac,
        mac_of_another_token,
        without_a_mac,
        one_part_too_many,
    ],
)
def test_a_tampered_token_is_refused_to_both_customers(world, tamper):
    token = next_token(ok(world.call(world.a, get_all_clients(1))))
    other = next_token(ok(world.call(world.a, get_all_clients(1, token))))
    with world.db.read() as conn:
        key = paging.token_key(conn)

    tampered = tamper(token, other, key)

    assert tampered not in (token, other)
    for who in (world.a, world.b):
        assert fault(world.call(who, get_all_clients(1, tampered))) == (
            refusal_of_a_forgery(world, who)
        )


def test_a_token_forged_with_the_key_would_pass_so_the_forgeries_are_sound(world):
    # The counterpart of the tampering test: the same swapped plaintext, sealed
    # with the service's own key, is taken, so those forgeries fail for want of
    # the key and not because they were malformed.
    token = next_token(ok(world.call(world.a, get_all_clients(1))))
    with world.db.read() as conn:
        key = paging.token_key(conn)
    _, swapped = _swapped_payload(key, token)

    answer = ok(world.call(world.b, get_all_clients(1, paging.seal(key, swapped))))

    assert texts(answer, "r:total") == ["4"]  # A's total, carried by the token


def test_a_token_serves_only_the_walk_it_was_issued_for(world):
    db = world.db
    rename(db, world.a_only[0], world.a_only[1])
    first_day = end_day(db)
    rename(db, world.a_only[1], world.a_only[2])
    second_day = end_day(db)
    list_token = next_token(ok(world.call(world.a, get_all_clients(1))))
    day_token = next_token(ok(world.call(world.a, get_changes(first_day, 1))))

    refused = [
        fault(world.call(world.a, get_changes(second_day, 1, day_token))),
        fault(world.call(world.a, get_changes(first_day, 1, list_token))),
        fault(world.call(world.a, get_all_clients(1, day_token))),
    ]

    assert refused == [refusal_of_a_forgery(world, world.a)] * 3


def test_a_token_does_not_show_its_holder_the_row_ids_inside(world):
    # Entry ids are numbered across all customers: read from B's tokens, they
    # would tell B how many persons A added between two of B's walks.
    token = next_token(ok(world.call(world.b, get_all_clients(1))))
    with world.db.read() as conn:
        state = paging.read_token(conn, token, world.b.customer_id, "list")

    sealed, _ = _parts(token)

    assert b'"beta"' not in sealed and b"list" not in sealed
    assert f'"k":{state["k"]}'.encode() not in sealed
