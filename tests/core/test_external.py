"""A missing external piece fails the tests that need it, unless the run opts out."""

import pytest

from tests.core.external import LIVE_HOME_ASSISTANT, MOSQUITTO, Needs


@pytest.fixture(autouse=True)
def _no_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LWM2M_SKIP_MISSING", raising=False)
    monkeypatch.delenv("LWM2M_LIVE", raising=False)


def _missing(live: bool = False) -> Needs:
    return Needs("The Gizmo", lambda: False, "apt-get install gizmo", live=live)


def test_a_present_piece_runs_the_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    present = Needs("The Gizmo", lambda: calls.append(1) or True, "apt-get install gizmo")
    assert not present and not present  # looked up once
    assert calls == [1]
    monkeypatch.setenv("LWM2M_SKIP_MISSING", "1")
    assert not Needs("The Gizmo", lambda: True, "apt-get install gizmo")


@pytest.mark.parametrize("live", [False, True])
def test_a_missing_piece_fails_with_the_install_command(live: bool) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        bool(_missing(live))
    assert "The Gizmo is missing" in str(failed.value) and "apt-get install gizmo" in str(failed.value)
    assert "LWM2M_SKIP_MISSING=1" in str(failed.value)
    assert ("LWM2M_LIVE=0" in str(failed.value)) is live


def test_opting_out_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LWM2M_LIVE", "0")
    assert _missing(live=True)  # skipped: a venv without the live pieces
    with pytest.raises(pytest.fail.Exception):
        bool(_missing(live=False))  # LWM2M_LIVE=0 says nothing about Mosquitto or Node.js
    monkeypatch.setenv("LWM2M_LIVE", "1")
    with pytest.raises(pytest.fail.Exception):
        bool(_missing(live=True))
    monkeypatch.setenv("LWM2M_SKIP_MISSING", "1")
    assert _missing(live=False) and _missing(live=True)


def test_markers_are_skipifs_looked_at_when_a_test_is_set_up() -> None:
    mark = _missing().mark.mark
    assert mark.name == "skipif" and isinstance(mark.args[0], Needs) and "LWM2M_SKIP_MISSING=1" in mark.kwargs["reason"]
    assert MOSQUITTO.live is False and LIVE_HOME_ASSISTANT.live is True
