"""Data checks for processes/org.json (organisation of the 武政办〔2022〕115号 supervision loop)."""

import json
import re
from pathlib import Path

ORG_PATH = Path(__file__).resolve().parents[2] / "processes" / "org.json"
ORG_TEXT = ORG_PATH.read_text(encoding="utf-8")
ORG = json.loads(ORG_TEXT)

TASKFORCE_CODES = [
    "optoelectronics",
    "health_biotech",
    "green_low_carbon",
    "automotive",
    "digital_economy",
]
EXPECTED_LEADS = {
    "optoelectronics": "econ_it",
    "health_biotech": "development_reform",
    "green_low_carbon": "development_reform",
    "automotive": "econ_it",
    "digital_economy": "econ_it",
}
# Counted in the seed's 专班成员单位 lines; digital_economy = 市经信局 + all 12 districts.
EXPECTED_MEMBER_COUNTS = {
    "optoelectronics": 13,
    "health_biotech": 18,
    "green_low_carbon": 21,
    "automotive": 13,
    "digital_economy": 13,
}
PERSONAL_NAMES = [
    "程用文", "陈劲超", "党蓁", "张勇强", "陈红辉", "王清华",
    "张忠军", "杨相卫", "黄志彤", "孟武康", "姚晴",
]
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,23}$")


def _taskforces():
    return {tf["code"]: tf for tf in ORG["taskforces"]}


def _department_codes():
    return [d["code"] for d in ORG["departments"]]


def test_five_taskforces_with_expected_codes():
    """Check there are exactly the five task forces with the agreed codes."""
    assert [tf["code"] for tf in ORG["taskforces"]] == TASKFORCE_CODES


def test_lead_department_is_first_member():
    """Check each lead department is a member and listed first."""
    for tf in ORG["taskforces"]:
        assert tf["lead_department"] in tf["member_departments"], tf["code"]
        assert tf["member_departments"][0] == tf["lead_department"], tf["code"]


def test_members_are_known_departments():
    """Check every member code refers to a defined department."""
    known = set(_department_codes())
    for tf in ORG["taskforces"]:
        unknown = [c for c in tf["member_departments"] if c not in known]
        assert not unknown, (tf["code"], unknown)


def test_department_codes_unique_and_well_formed():
    """Check department codes are unique lowercase snake_case of at most 24 chars."""
    codes = _department_codes()
    assert len(codes) == len(set(codes))
    for code in codes:
        assert CODE_RE.match(code), code


def test_single_supervision_office():
    """Check the only office-kind department is supervision_office."""
    offices = [d for d in ORG["departments"] if d["kind"] == "office"]
    assert [d["code"] for d in offices] == ["supervision_office"]
    assert offices[0]["name"] == "市督查室"


def test_lead_departments_match_seed():
    """Check each task force has the lead unit marked （牵头） in the seed."""
    tfs = _taskforces()
    for code, lead in EXPECTED_LEADS.items():
        assert tfs[code]["lead_department"] == lead, code


def test_member_counts_match_seed():
    """Check member counts per task force match the seed document."""
    tfs = _taskforces()
    for code, count in EXPECTED_MEMBER_COUNTS.items():
        members = tfs[code]["member_departments"]
        assert len(members) == count, (code, len(members))
        assert len(set(members)) == len(members), code


def test_no_personal_names_in_json():
    """Check no person named in the seed appears anywhere in the JSON."""
    found = [name for name in PERSONAL_NAMES if name in ORG_TEXT]
    assert not found, found


def test_digital_economy_includes_every_district():
    """Check the digital economy task force includes every district."""
    districts = [d["code"] for d in ORG["departments"] if d["kind"] == "district"]
    members = _taskforces()["digital_economy"]["member_departments"]
    assert districts
    assert all(code in members for code in districts)
    assert members == ["econ_it"] + districts
