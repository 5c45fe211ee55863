"""--target strings to providers (a registry other target kinds extend) and the config file."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_support import SIGN_IN, catalogue, memory_of, run_here

from clinic2fa.scenarios.contract import Account
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets import config, factory
from clinic2fa.scenarios.targets.http import HttpProvider
from clinic2fa.scenarios.targets.memory import MemoryProvider


def test_builtin_schemes() -> None:
    assert isinstance(factory.build("memory"), MemoryProvider)
    assert isinstance(factory.build("http://127.0.0.1:8000"), HttpProvider)
    assert factory.build("https://clinic.example/").name == "https://clinic.example"
    assert factory.scheme_of("memory+defect:replay") == "memory+defect"
    assert factory.scheme_of("browser+http://localhost:8000") == "browser+http"


def test_a_new_scheme_plugs_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A target kind arrives by registering a builder for its scheme."""
    monkeypatch.setattr(factory, "_REGISTERED", {})
    seen: list[str] = []

    def build(target: str, cfg: config.TargetConfig | None) -> MemoryProvider:
        seen.append(target)
        return memory_of()

    with pytest.raises(UsageError, match="known schemes: "):
        factory.build("plugged:replay")
    factory.register_scheme("plugged", build)
    done = run_here(tmp_path, catalogue(SIGN_IN), target="plugged:replay")
    assert done.code == 0 and seen == ["plugged:replay"]


def test_memory_gives_each_scenario_its_own_clinic() -> None:
    provider = factory.build("memory")
    first, second = provider.target(), provider.target()
    assert first.clinic is not second.clinic
    assert first.account("staff").email == second.account("staff").email  # both start empty


def test_a_full_config_file(tmp_path: Path) -> None:
    path = tmp_path / "deployment.toml"
    path.write_text("""
[clinic]
test_clinic = true
owner = { email = "o@x.test", password = "po" }
admin = { email = "a@x.test", password = "pa" }

[[staff]]
email = "s1@x.test"
password = "p1"

[[staff]]
email = "s2@x.test"
password = "p2"

[target]
timeout = 3
passkeys = false
origin = "https://pages.x.test/"
""")
    loaded = config.load(path)
    assert loaded.test_clinic and loaded.passkeys is False and loaded.reference is None
    assert loaded.owner == Account("o@x.test", "po", "owner")
    assert [a.email for a in loaded.staff] == ["s1@x.test", "s2@x.test"]
    assert loaded.timeout == 3.0 and loaded.origin == "https://pages.x.test"
    assert loaded.passwords == {"po", "pa", "p1", "p2"}


@pytest.mark.parametrize(("text", "expected"), [
    ("[clinc]\n", "unknown key 'clinc'"),
    ("[clinic]\ntest_clinc = true\n", "[clinic]: unknown key 'test_clinc'"),
    ('[clinic]\ntest_clinic = "yes"\n', "test_clinic must be true or false"),
    ('[clinic]\nowner = { email = "o@x.test" }\n', "owner: password missing"),
    ('[clinic]\nowner = { email = "nobody", password = "p" }\n', "not an email address"),
    ('[[staff]]\nemail = "s@x.test"\npassword = "p"\n' * 2, "listed twice"),
    ("[target]\ntimeout = 0\n", "timeout must be a positive number"),
    ('[target]\nreference = "no"\n', "reference must be true or false"),
    ('[target]\norigin = "clinic.example"\n', "origin must be a URL"),
    ("staff = 3\n", "staff must be an array of tables"),
    ("[clinic\n", "invalid TOML"),
])
def test_config_mistakes_are_one_line_usage_errors(tmp_path: Path, text: str,
                                                   expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as error:
        config.load(path)
    assert expected in str(error.value) and "\n" not in str(error.value)
    assert str(path) in str(error.value)
