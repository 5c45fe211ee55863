"""The spec package: the packaged guide and requirements are complete and consistent, and the
loader refuses inconsistent input instead of letting a scenario cite something that isn't there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clinic2fa.spec import SpecError, format_listing, load, parse

GUIDE_TEXT = Path("/work/shared/guide/two-factor-authentication.txt")

STEP_IDS = [f"STEP-{n}" for n in range(1, 9)]
OUTCOME_IDS = [f"OUTCOME-{n}" for n in range(1, 4)]
TROUBLE_IDS = [f"TROUBLE-{n}" for n in range(1, 6)]

REQUIREMENT_IDS = [
    "TOTP-STEP",
    "TOTP-WINDOW",
    "TOTP-REPLAY",
    "TOTP-RATE-LIMIT",
    "TOTP-SECRET-SIZE",
    "KEY-URI",
    "MANUAL-SECRET",
    "SETUP-CONFIRM",
    "SETUP-FRESH-SECRET",
    "BACKUP-COUNT",
    "BACKUP-SINGLE-USE",
    "BACKUP-HASHED",
    "BACKUP-SHOWN-ONCE",
    "BACKUP-REGENERATE",
    "BACKUP-ENTROPY",
    "BACKUP-PASSKEY-FIRST",
    "SIGNIN-SECOND-STEP",
    "SIGNIN-PENDING-GRANTS-NOTHING",
    "SIGNIN-PENDING-EXPIRES",
    "DISABLE-REAUTH",
    "DISABLE-ENFORCED",
    "ENFORCE-OWNER-ONLY",
    "ENFORCE-FORCES-ENROLMENT",
    "ADMIN-DISABLE-ROLES",
    "ADMIN-DISABLE-ENDS-SESSIONS",
    "SECRET-NOT-DISCLOSED",
    "SKEW-REASON",
    "AUDIT-LOG",
    "PASSWORD-HASH",
    "PASSKEY-CHALLENGE",
    "PASSKEY-ORIGIN-RPID",
    "PASSKEY-SIGN-COUNT",
    "PASSKEY-USER-VERIFICATION",
    "PASSKEY-FACTOR",
    "PASSKEY-OWN-CREDENTIAL",
    "SAME-STRENGTH-ALL-PATHS",
    "SESSION-NEW-TOKEN",
    "PASSWORD-RATE-LIMIT",
    "SIGNIN-NO-ENUMERATION",
    "TOTP-SKEW-NO-ORACLE",
    "RATE-LIMIT-CAP",
    "TOTP-ASCII-DIGITS",
    "QR-READABLE",
    "SECRET-NO-STORE",
    "REQUEST-SIZE-LIMIT",
]

SHOULD_IDS = {"SIGNIN-PENDING-EXPIRES", "SKEW-REASON", "AUDIT-LOG", "PASSKEY-USER-VERIFICATION",
              "SIGNIN-NO-ENUMERATION", "REQUEST-SIZE-LIMIT", "BACKUP-PASSKEY-FIRST"}

# Guide items no requirement serves, and why. STEP-1 is navigation: it names where the Security
# settings are, which a scenario checks directly against the item's `screen`; there is no
# behaviour of the deployment to require beyond what the other steps' requirements already cover.
UNSERVED_BY_DESIGN = {"STEP-1": "navigation only; checked against the item's screen label"}


# -- the packaged spec --------------------------------------------------------------------------


def test_guide_has_16_items_8_steps_3_outcomes_5_troubleshooting() -> None:
    s = load()
    assert [i.id for i in s.items_of_kind("step")] == STEP_IDS
    assert [i.id for i in s.items_of_kind("outcome")] == OUTCOME_IDS
    assert [i.id for i in s.items_of_kind("troubleshooting")] == TROUBLE_IDS
    assert len(s.guide_items) == 16


def test_ids_unique_across_both_files() -> None:
    ids = load().all_ids()
    assert len(ids) == len(set(ids))


def test_every_serves_reference_resolves_to_a_guide_item() -> None:
    s = load()
    item_ids = {i.id for i in s.guide_items}
    dangling = {(r.id, t) for r in s.requirements for t in r.serves if t not in item_ids}
    assert not dangling


def test_every_listed_requirement_exists() -> None:
    s = load()
    assert [r.id for r in s.requirements] == REQUIREMENT_IDS


def test_levels_are_as_decided() -> None:
    s = load()
    should = {r.id for r in s.requirements if r.level == "SHOULD"}
    assert should == SHOULD_IDS
    assert all(r.level == "MUST" for r in s.requirements if r.id not in SHOULD_IDS)


def test_every_guide_item_is_served_except_documented_ones() -> None:
    s = load()
    unserved = {i.id for i in s.guide_items if not s.requirements_serving(i.id)}
    # Equality, not subset: an exception that became served must leave the list.
    assert unserved == set(UNSERVED_BY_DESIGN)


def test_troubleshooting_items_carry_symptom_cause_fix() -> None:
    for item in load().items_of_kind("troubleshooting"):
        assert item.symptom and item.cause and item.fix, item.id
        assert item.text == item.symptom, item.id


def test_steps_and_outcomes_have_no_troubleshooting_fields() -> None:
    s = load()
    for item in (*s.items_of_kind("step"), *s.items_of_kind("outcome")):
        assert (item.symptom, item.cause, item.fix) == (None, None, None), item.id


@pytest.mark.parametrize(
    ("item_id", "screen"),
    [
        ("STEP-1", "Avatar -> My Profile -> Security | Settings -> Security"),
        ("STEP-2", "Set up authenticator app"),
        ("STEP-8", "Settings -> Security -> 2FA enforcement: Required"),
        ("TROUBLE-3", "Settings -> Staff"),
        ("TROUBLE-4", "Settings -> Security -> Disable 2FA"),
    ],
)
def test_screens_named_by_the_guide(item_id: str, screen: str) -> None:
    assert load().item(item_id).screen == screen


def test_guide_sourced_quotes_are_the_guides_words() -> None:
    """A requirement that cites the guide must quote it exactly, or the citation is invented."""
    s = load()
    corpus = [
        t for i in s.guide_items for t in (i.text, i.symptom, i.cause, i.fix) if t is not None
    ]
    for req in s.requirements:
        if req.source == "Guide":
            assert any(req.source_text in t for t in corpus), req.id


def test_source_texts_are_short() -> None:
    """Quotes stay short: enough to find the passage, not a copy of the standard."""
    too_long = [r.id for r in load().requirements if len(r.source_text) > 300]
    assert not too_long


@pytest.mark.skipif(not GUIDE_TEXT.exists(), reason="shared guide text not available here")
def test_guide_items_are_verbatim_from_the_shared_guide() -> None:
    guide = GUIDE_TEXT.read_text(encoding="utf-8")
    for item in load().guide_items:
        for words in (item.text, item.symptom, item.cause, item.fix):
            if words is not None:
                assert words in guide, item.id


def test_lookups() -> None:
    s = load()
    assert s.item("TROUBLE-2").cause == "Time skew on phone"
    assert s.requirement("TOTP-WINDOW").citation == "RFC 6238 s5.2"
    serving = {r.id for r in s.requirements_serving("TROUBLE-2")}
    assert {"TOTP-WINDOW", "SKEW-REASON"} <= serving
    with pytest.raises(KeyError):
        s.item("STEP-99")
    with pytest.raises(KeyError):
        s.requirement("TOTP-STEP-2")
    with pytest.raises(KeyError):
        s.requirements_serving("TOTP-STEP")


def test_load_is_cached() -> None:
    assert load() is load()


def test_to_dict_is_json_ready_and_complete() -> None:
    data = json.loads(json.dumps(load().to_dict()))
    assert [i["id"] for i in data["guide_items"]] == STEP_IDS + OUTCOME_IDS + TROUBLE_IDS
    assert [r["id"] for r in data["requirements"]] == REQUIREMENT_IDS
    assert data["requirements"][0]["serves"] == list(load().requirements[0].serves)


def test_format_listing_contains_every_id() -> None:
    listing = format_listing(load())
    # Each ID heads its own entry, so a match inside a longer ID does not count.
    missing = [i for i in load().all_ids() if f"\n  {i}  " not in listing]
    assert not missing
    musts = len(REQUIREMENT_IDS) - len(SHOULD_IDS)
    assert (f"Requirements ({len(REQUIREMENT_IDS)}: {musts} MUST, {len(SHOULD_IDS)} SHOULD)"
            in listing)
    assert "RFC 6238 s5.2" in listing
    assert max(len(line) for line in listing.splitlines()) <= 100


# -- the loader against bad input ---------------------------------------------------------------

GOOD_GUIDE = """
[[item]]
id = "STEP-1"
kind = "step"
title = "Open Security settings"
text = "Open Security settings."
screen = "Settings -> Security"

[[item]]
id = "TROUBLE-1"
kind = "troubleshooting"
title = "QR code won't scan"
text = "QR code won't scan"
symptom = "QR code won't scan"
cause = "Camera issues"
fix = "Use the manual-entry secret instead"
screen = "Set up authenticator app"
"""

GOOD_REQUIREMENTS = """
[[requirement]]
id = "MANUAL-SECRET"
level = "MUST"
title = "Manual-entry secret"
statement = "The setup screen MUST show the secret."
source = "Guide"
section = "Step 2"
source_text = "Use the manual-entry secret instead"
serves = ["TROUBLE-1"]
"""


def test_parse_accepts_a_minimal_good_spec() -> None:
    s = parse(GOOD_GUIDE, GOOD_REQUIREMENTS)
    assert s.all_ids() == ("STEP-1", "TROUBLE-1", "MANUAL-SECRET")
    assert s.requirement("MANUAL-SECRET").notes == ""


def _raises(guide: str, requirements: str) -> str:
    with pytest.raises(SpecError) as info:
        parse(guide, requirements)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_rejects_duplicate_id_within_a_file() -> None:
    message = _raises(GOOD_GUIDE + GOOD_GUIDE, GOOD_REQUIREMENTS)
    assert message == "duplicate ID 'STEP-1' (guide.toml)"


def test_rejects_duplicate_id_across_files() -> None:
    clash = GOOD_REQUIREMENTS.replace('id = "MANUAL-SECRET"', 'id = "STEP-1"')
    message = _raises(GOOD_GUIDE, clash)
    assert "duplicate ID 'STEP-1'" in message
    assert "guide.toml and requirements.toml" in message


def test_rejects_dangling_serves_reference() -> None:
    dangling = GOOD_REQUIREMENTS.replace('serves = ["TROUBLE-1"]', 'serves = ["TROUBLE-9"]')
    message = _raises(GOOD_GUIDE, dangling)
    assert "MANUAL-SECRET" in message
    assert "TROUBLE-9" in message


def test_rejects_serves_pointing_at_a_requirement() -> None:
    self_ref = GOOD_REQUIREMENTS.replace('serves = ["TROUBLE-1"]', 'serves = ["MANUAL-SECRET"]')
    assert "MANUAL-SECRET" in _raises(GOOD_GUIDE, self_ref)


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('level = "MUST"', 'level = "MAY"', "MANUAL-SECRET"),
        ('level = "MUST"', 'level = "must"', "MANUAL-SECRET"),
        ('source = "Guide"', 'source = "Blog post"', "MANUAL-SECRET"),
        ('serves = ["TROUBLE-1"]', "serves = []", "MANUAL-SECRET"),
        ('serves = ["TROUBLE-1"]', 'serves = "TROUBLE-1"', "MANUAL-SECRET"),
        ('serves = ["TROUBLE-1"]', 'serves = ["TROUBLE-1", "TROUBLE-1"]', "MANUAL-SECRET"),
        ('serves = ["TROUBLE-1"]', 'serve = ["TROUBLE-1"]', "MANUAL-SECRET"),
        ('title = "Manual-entry secret"', 'title = " "', "MANUAL-SECRET"),
        ('id = "MANUAL-SECRET"', 'id = "manual secret"', "requirements.toml"),
    ],
)
def test_rejects_bad_requirement(old: str, new: str, named: str) -> None:
    bad = GOOD_REQUIREMENTS.replace(old, new)
    assert bad != GOOD_REQUIREMENTS
    assert named in _raises(GOOD_GUIDE, bad)


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('kind = "step"', 'kind = "tip"', "STEP-1"),
        ('screen = "Settings -> Security"', "", "STEP-1"),
        ('kind = "step"', 'kind = "step"\nfix = "Reload"', "STEP-1"),
        ('cause = "Camera issues"', "", "TROUBLE-1"),
        ('title = "Open Security settings"', "title = 3", "STEP-1"),
    ],
)
def test_rejects_bad_guide_item(old: str, new: str, named: str) -> None:
    bad = GOOD_GUIDE.replace(old, new, 1)
    assert bad != GOOD_GUIDE
    assert named in _raises(bad, GOOD_REQUIREMENTS)


def test_rejects_invalid_toml_and_unexpected_layout() -> None:
    assert "guide.toml" in _raises("[[item]\nid =", GOOD_REQUIREMENTS)
    assert "requirements.toml" in _raises(GOOD_GUIDE, "")
    assert "guide.toml" in _raises('title = "x"\n' + GOOD_GUIDE, GOOD_REQUIREMENTS)


def test_spec_error_is_a_value_error() -> None:
    assert issubclass(SpecError, ValueError)


# -- parameters ---------------------------------------------------------------------------------

# Every parameter of the packaged spec: (requirement, name) -> (value, fixed). Equality, not
# subset, so a parameter added or dropped must be decided here too.
PARAMETERS = {
    ("TOTP-STEP", "period"): (30, True),
    ("TOTP-STEP", "digits"): (6, True),
    ("TOTP-STEP", "algorithm"): ("SHA1", True),
    ("TOTP-WINDOW", "window"): (1, False),
    ("TOTP-RATE-LIMIT", "max_failures"): (5, False),
    ("TOTP-RATE-LIMIT", "lockout_seconds"): (900, False),
    ("TOTP-RATE-LIMIT", "model"): ("lockout", False),
    ("TOTP-RATE-LIMIT", "lock_ends"): ("after_time", False),
    ("TOTP-SECRET-SIZE", "secret_bits"): (160, True),
    ("KEY-URI", "issuer"): ("MyDentalPractice", False),
    ("BACKUP-COUNT", "count"): (10, False),
    ("BACKUP-COUNT", "issued"): ("at_enrolment", False),
    ("BACKUP-HASHED", "salt_bits"): (128, False),
    ("BACKUP-ENTROPY", "entropy_bits"): (50, False),
    ("BACKUP-ENTROPY", "code_length"): (10, False),
    ("BACKUP-ENTROPY", "alphabet_size"): (32, False),
    ("BACKUP-PASSKEY-FIRST", "passkey_first"): ("offered", False),
    ("SIGNIN-PENDING-EXPIRES", "pending_seconds"): (300, False),
    ("SKEW-REASON", "skew_horizon"): (10, False),
    ("PASSWORD-HASH", "memory_kib"): (19456, False),
    ("PASSWORD-HASH", "time_cost"): (2, False),
    ("PASSWORD-HASH", "parallelism"): (1, False),
    ("PASSWORD-HASH", "salt_bits"): (128, False),
    ("PASSWORD-HASH", "function"): ("argon2id", False),
    ("PASSKEY-CHALLENGE", "challenge_bytes"): (32, False),
    ("PASSKEY-USER-VERIFICATION", "second_step"): ("required", False),
    ("PASSWORD-RATE-LIMIT", "max_failures"): (10, False),
    ("PASSWORD-RATE-LIMIT", "lockout_seconds"): (300, False),
    ("SIGNIN-NO-ENUMERATION", "samples"): (15, True),
    ("SIGNIN-NO-ENUMERATION", "margin_percent"): (50, True),
    ("RATE-LIMIT-CAP", "max_consecutive"): (100, False),
    ("QR-READABLE", "quiet_zone_modules"): (4, True),
    ("SECRET-NO-STORE", "cache_control"): ("no-store", True),
    ("REQUEST-SIZE-LIMIT", "max_body_bytes"): (65536, False),
}

# The bounds the standards set, where the spec's value is a choice within them.
BOUNDS = {
    ("TOTP-WINDOW", "window"): (0, 1),
    ("TOTP-RATE-LIMIT", "max_failures"): (1, 100),  # NIST SP 800-63B s5.2.2: at most 100
    ("BACKUP-ENTROPY", "entropy_bits"): (20, None),
    ("BACKUP-HASHED", "salt_bits"): (32, None),
    ("PASSWORD-HASH", "salt_bits"): (32, None),
    ("PASSKEY-CHALLENGE", "challenge_bytes"): (16, None),
    ("PASSWORD-RATE-LIMIT", "max_failures"): (1, 100),  # NIST SP 800-63B s5.2.2 again
    ("RATE-LIMIT-CAP", "max_consecutive"): (1, 100),  # NIST SP 800-63B s5.2.2's ceiling
    ("REQUEST-SIZE-LIMIT", "max_body_bytes"): (4096, 1048576),
}


def test_parameters_are_as_decided() -> None:
    found = {(p.requirement, p.name): (p.value, p.fixed) for p in load().all_parameters()}
    assert found == PARAMETERS


def test_standards_bounds_are_recorded() -> None:
    for (req_id, name), (least, most) in BOUNDS.items():
        parameter = load().parameter(req_id, name)
        assert (parameter.min, parameter.max) == (least, most), (req_id, name)


def test_every_parameter_has_a_reason_and_choices_have_bounds() -> None:
    for parameter in load().all_parameters():
        assert parameter.reason.strip(), parameter.name
        assert parameter.allows(parameter.value), parameter.name
        assert (parameter.bounds == "fixed") == parameter.fixed, parameter.name


def test_parameter_lookups() -> None:
    s = load()
    window = s.parameter("TOTP-WINDOW", "window")
    assert window is s.requirement("TOTP-WINDOW").parameters["window"]
    assert (window.value, window.number, window.unit) == (1, 1, "steps each way")
    assert s.parameter("KEY-URI", "issuer").text == "MyDentalPractice"
    assert s.requirement("DISABLE-REAUTH").parameters == {}
    with pytest.raises(KeyError, match="TOTP-WINDOW"):
        s.parameter("TOTP-WINDOW", "windows")
    with pytest.raises(KeyError):
        s.parameter("TOTP-WINDOWS", "window")
    with pytest.raises(SpecError, match="KEY-URI: parameter 'issuer' is not a number"):
        _ = s.parameter("KEY-URI", "issuer").number
    with pytest.raises(SpecError, match="TOTP-STEP: parameter 'period' is not a string"):
        _ = s.parameter("TOTP-STEP", "period").text


def test_parameters_cannot_be_changed_in_place() -> None:
    parameters = load().requirement("TOTP-WINDOW").parameters
    with pytest.raises(TypeError):
        parameters["window"] = parameters["window"]  # type: ignore[index]


def test_to_dict_carries_parameters() -> None:
    data = json.loads(json.dumps(load().to_dict()))
    by_id = {r["id"]: r for r in data["requirements"]}
    assert by_id["TOTP-RATE-LIMIT"]["parameters"]["max_failures"] == {
        "value": 5, "fixed": False, "unit": "failures", "min": 1, "max": 100, "allowed": [],
        "pattern": None, "reason": load().parameter("TOTP-RATE-LIMIT", "max_failures").reason,
    }
    assert by_id["KEY-URI"]["parameters"]["issuer"]["pattern"] == "[^:]+"
    assert by_id["DISABLE-REAUTH"]["parameters"] == {}


def test_format_listing_shows_parameters_briefly() -> None:
    listing = format_listing(load())
    assert "    parameters: window = 1 steps each way (0..1)\n" in listing
    assert "max_failures = 5 failures (1..100); lockout_seconds = 900 seconds (>= 1)" in listing
    assert "period = 30 seconds (fixed)" in listing
    assert "issuer = 'MyDentalPractice' (matching [^:]+)" in listing


def test_allows_checks_type_bounds_and_fixed_values() -> None:
    s = load()
    window, period = s.parameter("TOTP-WINDOW", "window"), s.parameter("TOTP-STEP", "period")
    issuer, failures = s.parameter("KEY-URI", "issuer"), s.parameter("TOTP-RATE-LIMIT",
                                                                      "max_failures")
    assert [window.allows(v) for v in (-1, 0, 1, 2)] == [False, True, True, False]
    assert [period.allows(v) for v in (30, 60)] == [True, False]
    assert [failures.allows(v) for v in (0, 1, 100, 101)] == [False, True, True, False]
    assert not window.allows(True) and not window.allows("1") and not window.allows(1.0)
    assert issuer.allows("Smile Dental") and not issuer.allows("Smile:Dental")
    assert not issuer.allows("")


def test_spec_imports_nothing_of_the_project() -> None:
    """The simulator and the scenarios read the spec; the spec must not depend on them."""
    code = ("import sys; import clinic2fa.spec as s; s.load(); "
            "print(sorted(m for m in sys.modules if m.startswith('clinic2fa.')))")
    done = subprocess.run([sys.executable, "-c", code],  # noqa: S603 - our own code
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['clinic2fa.spec']"


PARAMETRISED = GOOD_REQUIREMENTS + """
[requirement.parameters.group_size]
value = 4
fixed = false
min = 3
max = 8
unit = "characters"
reason = "Short groups a person can read."

[requirement.parameters.alphabet]
value = "base32"
fixed = true
reason = "RFC 4648."

[requirement.parameters.separator]
value = " "
fixed = false
allowed = [" ", "-"]
reason = "What apps accept."

[requirement.parameters.label]
value = "Clinic"
fixed = false
pattern = "[^:]+"
reason = "No colon."
"""


def test_parse_accepts_good_parameters() -> None:
    req = parse(GOOD_GUIDE, PARAMETRISED).requirement("MANUAL-SECRET")
    assert list(req.parameters) == ["group_size", "alphabet", "separator", "label"]
    group = req.parameters["group_size"]
    assert (group.requirement, group.name, group.value, group.fixed) == (
        "MANUAL-SECRET", "group_size", 4, False)
    assert (group.min, group.max, group.bounds) == (3, 8, "3..8")
    assert req.parameters["alphabet"].bounds == "fixed"
    assert req.parameters["alphabet"].unit == ""
    assert req.parameters["separator"].allowed == (" ", "-")
    assert req.parameters["separator"].bounds == "one of ' ', '-'"
    assert req.parameters["label"].bounds == "matching [^:]+"


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("value = 4\n", "", "missing field 'value'"),
        ("fixed = false\nmin = 3", "min = 3", "missing field 'fixed'"),
        ('reason = "Short groups a person can read."', "", "missing field 'reason'"),
        ('reason = "Short groups a person can read."', 'reason = " "', "field 'reason'"),
        ('unit = "characters"', "unit = 4", "field 'unit'"),
        ("min = 3\n", "min = 3\nmaximum = 9\n", "unknown field 'maximum'"),
        ("value = 4\n", "value = true\n", "value must be an integer or a string"),
        ("value = 4\n", "value = 4.5\n", "value must be an integer or a string"),
        ("value = 4\n", "value = [4]\n", "value must be an integer or a string"),
        ("fixed = false\nmin = 3", 'fixed = "no"\nmin = 3', "fixed must be true or false"),
        ("fixed = false\nmin = 3", "fixed = true\nmin = 3", "a fixed parameter has no bounds"),
        ("min = 3\nmax = 8\n", "", "needs bounds"),
        ("min = 3\n", "min = 9\n", "min 9 is above max 8"),
        ("value = 4\n", "value = 9\n", "value 9 is outside its own bounds (3..8)"),
        ("min = 3\n", "min = 3.5\n", "'min' must be an integer"),
        ("max = 8\n", "max = false\n", "'max' must be an integer"),
        ("[requirement.parameters.group_size]", "[requirement.parameters.groupSize]",
         "parameter 'groupSize': the name is not snake_case"),
    ],
)
def test_rejects_bad_numeric_parameter(old: str, new: str, says: str) -> None:
    bad = PARAMETRISED.replace(old, new, 1)
    assert bad != PARAMETRISED
    message = _raises(GOOD_GUIDE, bad)
    assert message.startswith("MANUAL-SECRET: parameter '")
    assert says in message


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('allowed = [" ", "-"]', "allowed = []", "allowed must be a non-empty list"),
        ('allowed = [" ", "-"]', 'allowed = [" ", 1]', "allowed must be a non-empty list"),
        ('allowed = [" ", "-"]', 'allowed = " "', "allowed must be a non-empty list"),
        ('allowed = [" ", "-"]', 'allowed = [" ", " "]', "allowed lists a value twice"),
        ('allowed = [" ", "-"]', 'allowed = ["-", "_"]', "value ' ' is outside its own bounds"),
        ('pattern = "[^:]+"', 'pattern = "[^:"', "pattern is not a regular expression"),
        ('pattern = "[^:]+"', 'pattern = ""', "pattern must be a non-empty regular expression"),
        ('pattern = "[^:]+"', 'pattern = "[a-z]+"', "value 'Clinic' is outside its own bounds"),
        ('pattern = "[^:]+"', "min = 1", "'min' bounds a number, but the value is a string"),
    ],
)
def test_rejects_bad_named_parameter(old: str, new: str, says: str) -> None:
    bad = PARAMETRISED.replace(old, new, 1)
    assert bad != PARAMETRISED
    message = _raises(GOOD_GUIDE, bad)
    assert message.startswith("MANUAL-SECRET: parameter '")
    assert says in message


def test_rejects_a_pattern_on_a_number_and_a_bad_parameters_table() -> None:
    number_pattern = PARAMETRISED.replace("min = 3\nmax = 8\n", 'pattern = "[0-9]+"\n', 1)
    assert "pattern bounds a string" in _raises(GOOD_GUIDE, number_pattern)
    not_a_table = GOOD_REQUIREMENTS + "parameters = 5\n"
    assert _raises(GOOD_GUIDE, not_a_table) == (
        "MANUAL-SECRET: parameters must be a table of parameter tables")
    entry_not_a_table = GOOD_REQUIREMENTS + "parameters = { window = 1 }\n"
    assert _raises(GOOD_GUIDE, entry_not_a_table) == (
        "MANUAL-SECRET: parameter 'window' must be a table")
