"""Fixtures shared by the Python tests."""

import os
import pathlib

import pytest


@pytest.fixture(scope="session")
def coco_bin():
    """The ``coco`` binary the workspace build made (``COCO_BIN``, else target/debug/coco)."""
    p = pathlib.Path(
        os.environ.get("COCO_BIN", pathlib.Path(__file__).parents[3] / "target" / "debug" / "coco")
    )
    assert p.is_file(), f"the coco binary (used by these tests) is not at {p}; set COCO_BIN"
    return str(p)
