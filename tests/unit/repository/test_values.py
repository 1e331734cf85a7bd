"""What DynamoDB cannot hold as a number is kept as its JSON text, so a payload never makes its chat unstorable."""

from decimal import Decimal

import pytest

from chatbridge.repository.values import plain, storable


@pytest.mark.parametrize("value", [-3.419919508764128e-148, 1e-131, 1.5e126, -1e200, 10**40])
def test_a_number_outside_dynamodbs_range_is_kept_as_its_json_text(value):
    # boto3's decimal context takes subnormal numbers such as 3.4e-148, which DynamoDB then refuses
    # ("Number underflow"), cancelling the chat's whole transaction: found by the request-path fuzz test
    assert storable({"body": value}) == {"body": repr(value)}


@pytest.mark.parametrize("value", [0, 0.0, 1e-130, -2.5, 1.5e-50, 10**37])
def test_a_number_inside_the_range_stays_a_number(value):
    stored = storable(value)
    assert isinstance(stored, (int, Decimal)) and plain(stored) == value
