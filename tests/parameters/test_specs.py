"""Spec validation: bad parameter input is rejected with a message naming the field."""

import pytest

from gridcare.parameters.config import default_config
from gridcare.parameters.specs import ParameterSpecInvalid, parse_spec

CFG = default_config()


def reject(kind, spec, **kw):
    with pytest.raises(ParameterSpecInvalid) as info:
        parse_spec(kind, spec, config=CFG, **kw)
    return info.value


def test_ratios_not_summing_to_100_percent_are_rejected():
    err = reject("split", {"ratios": [{"percent": "80"}, {"percent": "15", "tariff": "gd-ci-tou-lt1kv"}]})
    assert err.field == "spec.ratios"
    assert err.message == "fixed ratios must add up to 100%; these add up to 95%"


def test_member_shares_not_summing_to_100_percent_are_rejected():
    err = reject("sharing", {"basis": "ratio", "members": [{"account_id": 1, "percent": "60"},
                                                             {"account_id": 2, "percent": "50"}]})
    assert (err.field, err.message) == ("spec.members", "member shares must add up to 100%; these add up to 110%")


@pytest.mark.parametrize(("kind", "spec", "field", "message"), [
    ("split", {}, "spec.quantities", "a split needs at least one fixed quantity or fixed ratio"),
    ("split", {"quantities": [{"kwh": "-5", "tariff": "gz-residential"}]}, "spec.quantities[0].kwh",
     "spec.quantities[0].kwh must be greater than 0, got -5"),
    ("split", {"quantities": [{"kwh": 1.5, "tariff": "gz-residential"}]}, "spec.quantities[0].kwh",
     "spec.quantities[0].kwh must be a number written as text or an integer (e.g. \"300\"), got 1.5"),
    ("split", {"quantities": [{"kwh": "300"}]}, "spec.quantities[0].tariff", "spec.quantities[0].tariff is required"),
    ("split", {"quantities": [{"kwh": "300", "tariff": "gz-residential", "registers": "noon"}]},
     "spec.quantities[0].registers",
     "spec.quantities[0].registers must be one of ['proportional', 'sharp', 'peak', 'flat', 'valley', "
     "'deep_valley'], got 'noon'"),
    ("split", {"ratios": [{"percent": "50"}, {"percent": "50"}]}, "spec.ratios",
     "only one ratio part may stay on the account's own tariff (tariff left empty)"),
    ("split", {"ratios": [{"percent": "100.00001"}]}, "spec.ratios[0].percent",
     "spec.ratios[0].percent: at most 4 decimal places, got 100.00001"),
    ("split", {"order": "sideways", "ratios": [{"percent": "100"}]}, "spec.order",
     "spec.order must be one of ['quantity_first', 'ratio_first'], got 'sideways'"),
    ("split", {"quantities": [], "colour": "red"}, "spec.colour",
     "spec: unknown key(s) ['colour']; expected some of ['order', 'quantities', 'ratios']"),
    ("deduction", {"parent_account_id": "12"}, "spec.parent_account_id",
     "spec.parent_account_id must be an account id (a positive integer), got '12'"),
    ("sharing", {"members": [{"account_id": 1, "percent": "50"}, {"account_id": 1, "percent": "50"}]},
     "spec.members[1].account_id", "spec.members[1].account_id: account 1 is listed twice"),
    ("sharing", {"source": "fixed", "members": [{"account_id": 1, "percent": "100"}]}, "spec.kwh",
     "spec.kwh must be a number written as text or an integer (e.g. \"300\"), got None"),
    ("sharing", {"basis": "consumption", "members": [{"account_id": 1, "percent": "100"}]},
     "spec.members[0].percent", "spec.members[0].percent: shares by consumption take no percentage"),
    ("free_allowance", {"scheme": "pensioner"}, "spec.scheme",
     "spec.scheme must be one of ['five_guarantee', 'subsistence'], got 'pensioner'"),
    ("capacity", {"change": "increase"}, "spec.capacity_kva", "spec.capacity_kva is required for increase"),
    ("capacity", {"change": "suspend", "capacity_kva": "315", "suspended_kva": "400"}, "spec.suspended_kva",
     "spec.suspended_kva cannot exceed spec.capacity_kva"),
    ("capacity", {"change": "grow", "capacity_kva": "1"}, "spec.change",
     "spec.change must be one of ['base', 'increase', 'decrease', 'suspend', 'temp_replace'], got 'grow'"),
    ("meter", {}, "kind", "kind must be one of ['split', 'deduction', 'sharing', 'free_allowance', 'capacity'], "
     "got 'meter'"),
])
def test_bad_specs_name_the_field(kind, spec, field, message):
    err = reject(kind, spec)
    assert (err.field, err.message) == (field, message)
    assert err.as_dict()["code"] == "parameter_invalid"


def test_unknown_tariff_is_rejected_when_the_codes_are_given():
    err = reject("split", {"quantities": [{"kwh": "300", "tariff": "nowhere"}]}, tariffs={"gz-residential"})
    assert (err.field, err.message) == ("spec.quantities[0].tariff", "spec.quantities[0].tariff: unknown tariff 'nowhere'")


def test_valid_specs_parse_to_integer_units():
    split = parse_spec("split", {"quantities": [{"kwh": "300.5", "tariff": "gz-residential"}],
                                 "ratios": [{"percent": "80"}, {"percent": "20", "tariff": "gd-ci-tou-lt1kv"}]},
                       config=CFG)
    assert split.quantities[0].wh == 300_500
    assert [r.ppm for r in split.ratios] == [800_000, 200_000]
    assert split.order == "quantity_first"
    allowance = parse_spec("free_allowance", {"scheme": "subsistence"}, config=CFG)
    assert (allowance.wh, allowance.label_zh) == (10_000, "城乡低保户")
    assert parse_spec("free_allowance", {"scheme": "subsistence", "kwh": "15"}, config=CFG).wh == 15_000
    cap = parse_spec("capacity", {"change": "suspend", "suspended_kva": "315"}, config=CFG)
    assert (cap.capacity_va, cap.suspended_va) == (None, 315_000)
