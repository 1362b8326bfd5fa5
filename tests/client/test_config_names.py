"""Finding a camera or an event type by name, with the names a server may really have:
composed or decomposed accents, full-width letters, terminal escapes, and thousands of
them. The lookup matches what a person reads; its error stays short and safe to print."""

from __future__ import annotations

import unicodedata

import pytest

from xprotect_events import InvalidInputError, XProtectClient
from xprotect_events.testing import Simulator


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("Entre\u0301e Nord", "Entr\u00e9e Nord"),  # decomposed on the server, composed typed
        ("Entr\u00e9e Nord", "Entre\u0301e Nord"),  # and the other way round
        ("\uff2c\uff4f\uff42\uff42\uff59", "Lobby"),  # full-width letters
        ("Stra\u00dfe", "STRASSE"),  # case folding, not lower-casing
    ],
)
async def test_a_name_is_found_as_it_reads(
    sim: Simulator, client: XProtectClient, stored: str, asked: str
) -> None:
    guid = sim.add_camera(stored)
    type_id = sim.add_event_type(stored)
    assert (await client.camera(asked)).id == guid
    assert (await client.event_type(asked)).id == type_id


async def test_an_unknown_name_error_shows_no_terminal_escape(
    sim: Simulator, client: XProtectClient
) -> None:
    sim.add_camera("\x1b[2J\x1b]0;owned\x07Lobby\u202e")
    with pytest.raises(InvalidInputError) as caught:
        await client.camera("Parking")
    text = str(caught.value)
    assert all(unicodedata.category(c) not in ("Cc", "Cf") for c in text), repr(text)
    assert "\\x1b" in text  # shown, escaped


async def test_an_unknown_name_error_stays_short_among_thousands(
    sim: Simulator, client: XProtectClient
) -> None:
    for number in range(3_000):
        sim.add_camera(f"Camera {number:05} " + "x" * 100)
    with pytest.raises(InvalidInputError) as caught:
        await client.camera("Parking")
    text = str(caught.value)
    assert len(text) < 2_000
    assert "more" in text  # says that it left names out


async def test_a_long_name_asked_is_cut_in_the_error(client: XProtectClient) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await client.event_type("y" * 100_000)
    assert len(str(caught.value)) < 2_000


async def test_a_camera_by_id_is_one_get_not_a_listing(sim: Simulator) -> None:
    """Among 1,500 cameras (three pages), ``camera(guid)`` reads that one camera."""
    for number in range(1_500):
        sim.add_camera(f"Extra camera {number}")
    hidden = sim.add_camera("Hidden", visible_to=["nobody"])
    wanted = sim.cameras[700]
    async with XProtectClient(
        sim.url, username="operator", password="operator", clock=sim.clock.time
    ) as client:
        assert (await client.camera(wanted.id)).name == wanted.name
        assert (await client.camera(wanted.source)).id == wanted.id
        with pytest.raises(InvalidInputError, match="may see"):
            await client.camera(hidden)
    assert sim.stats.requests["GET /api/rest/v1/cameras"] == 0
    assert sim.stats.requests["GET /api/rest/v1/cameras/{id}"] == 3
