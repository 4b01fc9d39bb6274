"""Settings: typed, read once from the environment, and refused when a value is not understood."""

from __future__ import annotations

import pytest

from engine.settings import Settings, SettingError


@pytest.mark.parametrize("raw, expected", [("1", True), ("true", True), ("YES", True), (" on ", True),
                                           ("0", False), ("False", False), ("no", False), ("off", False)])
def test_a_boolean_setting_takes_the_usual_words(raw: str, expected: bool) -> None:
    """Read 1/0, true/false, yes/no and on/off, in any case."""
    assert Settings.from_env({"DUBAN_PRODUCTION": raw}).production is expected


@pytest.mark.parametrize("raw", ["y", "", "enabled", "2"])
def test_a_boolean_setting_it_does_not_understand_stops_the_start_naming_it(raw: str) -> None:
    """Refuse DUBAN_PRODUCTION=y (it silently meant development mode) and say which setting is wrong."""
    with pytest.raises(SettingError, match="DUBAN_PRODUCTION"):
        Settings.from_env({"DUBAN_PRODUCTION": raw})


def test_an_integer_setting_that_is_not_a_number_names_the_setting() -> None:
    """Refuse a port that is not a number with the setting's name."""
    with pytest.raises(SettingError, match="PORT"):
        Settings.from_env({"PORT": "eighty"})


def test_there_is_no_bpmn_path_setting() -> None:
    """Deploying another BPMN file is ``duban deploy``'s job, not a setting nobody reads."""
    assert not hasattr(Settings(), "bpmn_path")
