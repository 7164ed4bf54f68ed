"""Guards for the environment files: requirements.txt holds exact pins, environment.yml delegates."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.]+)$")


def requirement_lines():
    lines = (line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pins():
    matches = (PIN.match(line) for line in requirement_lines())
    return {normalise(m["name"]): m["version"] for m in matches if m}


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_requirement_is_an_exact_pin():
    bad = [line for line in requirement_lines() if not PIN.match(line)]
    assert not bad, f"not an exact name==version pin: {bad}"


def test_no_requirement_is_listed_twice():
    names = [normalise(PIN.match(line)["name"]) for line in requirement_lines()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_torch_pin_has_no_local_tag():
    torch = [line for line in requirement_lines() if line.lower().startswith("torch==")]
    assert len(torch) == 1 and re.fullmatch(r"torch==\d+\.\d+\.\d+", torch[0]), torch


def test_jupyter_book_is_pinned_to_1_0_4_post1():
    assert pins()["jupyter-book"] == "1.0.4.post1"


def test_environment_yml_delegates_to_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    conda = [dep for dep in deps if isinstance(dep, str)]
    pip_blocks = [dep["pip"] for dep in deps if isinstance(dep, dict)]
    assert [re.split(r"[=<>!\s]", dep)[0] for dep in conda] == ["python", "pip"]
    assert len(pip_blocks) == 1
    assert "-r requirements.txt" in pip_blocks[0]
    assert "-e .[book,test]" in pip_blocks[0]
