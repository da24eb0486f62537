from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from regwatch.register.synth import sources

SHIPPED = resources.files("regwatch.register.synth") / "data"
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
OWN_FILES = {"README.md", "municipality_weights.csv", "foreign_names.csv"}


def _copied() -> list[str]:
    return sorted(
        entry.name for entry in SHIPPED.iterdir() if entry.name not in OWN_FILES
    )


@pytest.mark.parametrize("name", _copied())
def test_a_shipped_data_file_is_a_byte_copy_of_the_shared_one(name):
    if not (SHARED / name).exists():
        pytest.skip("the shared research folder is not beside this clone")
    assert (SHIPPED / name).read_bytes() == (SHARED / name).read_bytes()


def test_the_data_readme_names_every_shipped_file_and_credits_geonames():
    readme = (SHIPPED / "README.md").read_text(encoding="utf-8")
    for entry in SHIPPED.iterdir():
        if entry.name != "README.md":
            assert f"`{entry.name}`" in readme
    assert "GeoNames" in readme and "CC BY 4.0" in readme
    assert "FakerPHP" in readme and "MIT" in readme


def test_data_files_are_read_once_and_shared():
    assert sources.postal_places() is sources.postal_places()
    assert sources.given_names() is sources.given_names()


def test_the_municipality_weights_cover_exactly_the_sixty_municipalities():
    codes = {m.code for m in sources.municipalities()}
    assert len(codes) == 60
    assert set(sources.municipality_weights()) == codes


def test_the_postal_file_is_read_whole():
    places = sources.postal_places()
    assert len({p.municipality_code for p in places}) == 60
    assert all(len(p.postal_code) == 5 and p.postal_code.isdigit() for p in places)
