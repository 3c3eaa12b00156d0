"""`tests/vectors/network.json` through the native module: how networks parse, which addresses
they contain, and which address a request counts as coming from — the core's rule
(``policy::network``), which the Flask and FastAPI adapters call and never re-implement. The
Rust (core/tests/network_vectors.rs) and Node suites run the same cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from authgate import ScalekitBadRequestException, client_address
from authgate._native import parse_networks

DOC: Dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "tests" / "vectors" / "network.json").read_text()
)
NETWORKS: List[Dict[str, Any]] = DOC["networks"]
CONTAINS: List[Dict[str, Any]] = DOC["contains"]
CLIENT_ADDRESS: List[Dict[str, Any]] = DOC["client_address"]


@pytest.mark.parametrize("case", NETWORKS, ids=[repr(c["input"]) for c in NETWORKS])
def test_networks_parse_as_the_vectors_say(case: Dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(ScalekitBadRequestException) as caught:
            parse_networks([case["input"]])
        assert caught.value.code == "invalid_argument"
        assert "trusted_proxies" in str(caught.value)
        if "error_mentions" in case:
            assert case["error_mentions"] in str(caught.value)
    else:
        assert parse_networks([case["input"]]) == [case["canonical"]]


@pytest.mark.parametrize("case", CONTAINS, ids=[f"{c['network']} {c['address']}" for c in CONTAINS])
def test_containment_as_the_vectors_say(case: Dict[str, Any]) -> None:
    """A peer inside the trusted network is a proxy, so its ``X-Forwarded-For`` entry is the
    answer; outside, the peer itself. The entry is of the other address family than the network,
    so it is never itself inside it."""
    network = parse_networks([case["network"]])[0]
    marker = "192.0.2.99" if ":" in network else "2001:db8::99"
    got = client_address(case["address"], [marker], [case["network"]])
    assert (got == marker) is case["expected"]


@pytest.mark.parametrize("case", CLIENT_ADDRESS, ids=[c["description"] for c in CLIENT_ADDRESS])
def test_client_address_as_the_vectors_say(case: Dict[str, Any]) -> None:
    got = client_address(case["peer"], case["forwarded_for"], case["trusted_proxies"])
    assert got == case["expected"]


def test_vector_file_is_complete() -> None:
    assert len(NETWORKS) >= 10 and len(CONTAINS) >= 10 and len(CLIENT_ADDRESS) >= 10


def test_peers_that_are_no_address_and_bad_proxies() -> None:
    for peer in [None, "", "testclient", "unix:/run/app.sock"]:
        assert client_address(peer, ["198.51.100.1"], ["0.0.0.0/0"]) is None
    with pytest.raises(ScalekitBadRequestException) as caught:
        client_address("10.0.0.1", [], ["10.0.0.1/8"])
    assert "10.0.0.0/8" in str(caught.value)
    assert parse_networks(["192.0.2.0/24"], "allowed_cidrs") == ["192.0.2.0/24"]
    with pytest.raises(ScalekitBadRequestException) as caught:
        parse_networks(["nope"], "allowed_cidrs")
    assert "allowed_cidrs" in str(caught.value)
