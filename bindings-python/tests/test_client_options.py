"""`tests/vectors/client_options.json` against the real Python constructors: the same option names
(snake_case here, camelCase in Node) and defaults as the Node package, set up by the core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

from authgate import ScalekitBadRequestException, ScalekitClient

DOC: Dict[str, Any] = json.loads((Path(__file__).resolve().parents[2] / "tests" / "vectors" / "client_options.json").read_text())
URL = "http://127.0.0.1:9"


def remote(**options: Any) -> ScalekitClient:
    return ScalekitClient(URL, "skc_options", "s" * 32, **options)


def test_remote_defaults_and_mode() -> None:
    client = remote()
    assert client.mode == DOC["modes"]["remote"]
    assert client.options == {o["snake"]: o["default"] for o in DOC["remote"]["options"]}


@pytest.mark.parametrize("option", DOC["remote"]["options"], ids=lambda o: o["snake"])
def test_remote_option_takes_effect(option: Dict[str, Any]) -> None:
    client = remote(**{option["snake"]: option["test_value"]})
    assert client.options is not None and client.options[option["snake"]] == option["test_value"]


def test_remote_refuses_unknown_options_and_bad_values() -> None:
    with pytest.raises(TypeError):
        remote(timeout_ms=5)
    for bad in ({"timeout": 0}, {"timeout": float("nan")}, {"connect_timeout": -1.0}, {"retries": 11}):
        with pytest.raises(ScalekitBadRequestException) as caught:
            remote(**bad)
        assert caught.value.code == "invalid_argument", bad


def test_local_options(tmp_path: Path) -> None:
    by_name = {o["snake"]: o for o in DOC["local"]["options"]}
    assert list(by_name) == ["issuer", "key_pepper", "master_key"]
    issuer = by_name["issuer"]["test_value"]
    client = ScalekitClient.local(f"sqlite://{tmp_path / 'issuer.db'}", issuer=issuer)
    assert client.mode == DOC["modes"]["local"]
    assert client.env_url == issuer
    assert client.options is None
    # A too-short pepper or master key is refused by the core: the option reached it.
    for name in ("key_pepper", "master_key"):
        with pytest.raises(ScalekitBadRequestException) as caught:
            ScalekitClient.local(f"sqlite://{tmp_path / (name + '.db')}", **{name: by_name[name]["test_value"]})
        assert caught.value.code == "invalid_argument", name
