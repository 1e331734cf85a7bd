"""The browser tests' names for the shared local stack and the third party behind it (``support.console``)."""

import pytest


@pytest.fixture(scope="module")
def stack(console_stack):
    return console_stack


@pytest.fixture(scope="module")
def third_party(console_third_party):
    return console_third_party
