"""A failure test for every public method of the package, asserting the exact error code and
that the store did not change (remote, embedded on SQLite, embedded on PostgreSQL); and the
check that `tests/OPERATIONS.md` has a row for every public method, read from the classes
themselves (`dir()`), never from a hand-kept list."""

from __future__ import annotations

import inspect
import os
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, Type

import pytest

import authgate
from authgate import (
    AuditService,
    ClientCredentials,
    JwtValidator,
    M2MClientService,
    OrganizationService,
    ScalekitBadRequestException,
    ScalekitClient,
    ScalekitConflictException,
    ScalekitException,
    ScalekitInsufficientScopeException,
    ScalekitKeysUnavailableException,
    ScalekitNotFoundException,
    ScalekitUnauthorizedException,
    ScalekitValidateTokenFailureException,
    TokenService,
    UserService,
)

from .conftest import Server, unique

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "tests" / "OPERATIONS.md"

#: The classes whose public methods are operations, by the name the table uses.
CLASSES: Dict[str, type] = {
    "ScalekitClient": ScalekitClient,
    "TokenService": TokenService,
    "M2MClientService": M2MClientService,
    "OrganizationService": OrganizationService,
    "UserService": UserService,
    "AuditService": AuditService,
    "JwtValidator": JwtValidator,
    "ClientCredentials": ClientCredentials,
}


def public_methods(cls: type) -> Set[str]:
    """The public methods of `cls` (not properties, not dunders), from `dir()`."""
    names = set()
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if isinstance(attr, (property,)) or inspect.isgetsetdescriptor(attr) or inspect.ismemberdescriptor(attr):
            continue
        if callable(getattr(cls, name)):
            names.add(name)
    return names


def table(section: str) -> Dict[str, Tuple[str, str]]:
    rows: Dict[str, Tuple[str, str]] = {}
    inside = False
    for line in OPERATIONS.read_text().splitlines():
        if line.startswith("## "):
            inside = line[3:].strip() == section
            continue
        if not inside or not line.startswith("|") or line.startswith("|---") or line.startswith("| operation"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, line
        rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def test_every_public_method_has_its_row_in_the_operations_table() -> None:
    methods = {f"{cls_name}.{m}" for cls_name, cls in CLASSES.items() for m in public_methods(cls)}
    # A sanity check of the enumeration itself.
    assert {"ScalekitClient.local", "TokenService.invalidate_token", "JwtValidator.refresh"} <= methods
    assert "ScalekitClient.tokens" not in methods  # a property
    rows = table("Python package")
    missing = sorted(methods - rows.keys())
    extra = sorted(rows.keys() - methods)
    assert not missing, f"public methods without a row in tests/OPERATIONS.md: {missing}"
    assert not extra, f"rows in tests/OPERATIONS.md for methods that do not exist: {extra}"
    here = Path(__file__).parent
    for op, (success, failure) in rows.items():
        for cell, kind in ((success, "success"), (failure, "failure")):
            if kind == "failure" and cell.startswith("n/a: "):
                continue
            refs = [r.strip().strip("`") for r in cell.split("<br>") if r.strip()]
            assert refs, f"{op}: no {kind} test"
            for ref in refs:
                path, _, name = ref.partition("::")
                assert path.startswith("bindings-python/tests/"), f"{op}: {ref}"
                text = (REPO / path).read_text()
                assert re.search(rf"^def {re.escape(name)}\(", text, re.M), f"{op}: no test {ref}"
    assert here.exists()


# --- failure tests --------------------------------------------------------------------------


@dataclass
class Target:
    """A client and a way to read its whole store."""

    client: ScalekitClient
    snapshot: Callable[[], str]


#: Bookkeeping columns: the last use of keys and secrets is written off the request path, up to a
#: few seconds after validations and grants of earlier tests, so it may land during any test. It is
#: not state an operation changes.
BOOKKEEPING = {"last_used_time"}


def sqlite_snapshot(path: Path) -> Callable[[], str]:
    def snap() -> str:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            out = []
            for table in tables:
                columns = [f'"{r[1]}"' for r in db.execute(f'PRAGMA table_info("{table}")') if r[1] not in BOOKKEEPING]
                listed = ", ".join(columns)
                rows = db.execute(f'SELECT {listed} FROM "{table}" ORDER BY {listed}').fetchall()
                out.append(f"{table} ({listed}): {rows!r}")
            return "\n".join(out)

    return snap


def postgres_snapshot(url: str) -> Callable[[], str]:
    def snap() -> str:
        pg_bin = os.environ.get("AUTHGATE_TEST_PG_BIN")
        exe = os.path.join(pg_bin, "pg_dump") if pg_bin else "pg_dump"
        out = subprocess.run([exe, "--data-only", "--no-comments", "-d", url], check=True, capture_output=True, text=True)
        lines: List[str] = []
        rows: Optional[List[str]] = None  # the rows of the COPY block being read
        blank: List[int] = []  # its bookkeeping columns
        for line in out.stdout.splitlines():
            # pg_dump brackets its output with a random \restrict key: not data.
            if line.startswith(("\\restrict", "\\unrestrict")):
                continue
            header = re.match(r"COPY \S+ \((.*)\) FROM stdin;$", line)
            if header:
                columns = [c.strip().strip('"') for c in header.group(1).split(",")]
                blank = [i for i, c in enumerate(columns) if c in BOOKKEEPING]
                lines.append(line)
                rows = []
            elif line == "\\." and rows is not None:
                # Sorted: an update moves a row in the heap, and pg_dump writes heap order.
                lines.extend(sorted(rows))
                lines.append(line)
                rows = None
            elif rows is not None:
                fields = line.split("\t")
                rows.append("\t".join("-" if i in blank else f for i, f in enumerate(fields)))
            else:
                lines.append(line)
        return "\n".join(lines)

    return snap


@pytest.fixture(scope="module", params=["remote", "embedded", "embedded-postgres"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    if request.param == "remote":
        server: Server = request.getfixturevalue("server")
        yield Target(server.client(), sqlite_snapshot(server.log.parent / "authgate.db"))
    elif request.param == "embedded":
        path = tmp_path_factory.mktemp("operations") / "authgate.db"
        yield Target(ScalekitClient.local(f"sqlite://{path}", issuer="https://api.example.test"), sqlite_snapshot(path))
    else:
        url: str = request.getfixturevalue("postgres_database_url")
        yield Target(ScalekitClient.local(url, issuer="https://api.example.test"), postgres_snapshot(url))


@dataclass
class Ids:
    org: str
    client_id: str
    secret: str
    token_id: str
    jwt: str
    user: str
    user_external: str


@pytest.fixture(scope="module")
def ids(target: Target) -> Ids:
    c = target.client
    org = c.organization.create_organization(display_name="Failures", external_id=unique("failures")).organization.id
    created = c.m2m_client.create_organization_client(org, {"name": "svc", "scopes": ["read"]})
    key = c.tokens.create_token(organization_id=org)
    jwt = c.generate_client_token(created.client.client_id, created.plain_secret)
    external = unique("member")
    member = c.users.create_user_and_membership(
        org,
        authgate.CreateUser(
            email=f"{external}@failures.test", external_id=external, membership=authgate.CreateMembership(["viewer"])
        ),
    ).user
    return Ids(org, created.client.client_id, created.plain_secret, key.token_id, jwt, member.id, external)


Call = Callable[[ScalekitClient, Ids], Any]

#: operation → (the failing call, the exception class, its exact code)
FAILURES: Dict[str, Tuple[Call, Type[ScalekitException], str]] = {
    "AuditService.list_events": (
        lambda c, i: c.audit.list_events(organization_id=i.org, action="api_key.explode"),
        ScalekitBadRequestException,
        "invalid_argument",
    ),
    "TokenService.create_token": (
        lambda c, i: c.tokens.create_token(organization_id="org_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "TokenService.validate_token": (
        lambda c, i: c.tokens.validate_token("agk_not-a-key"),
        ScalekitValidateTokenFailureException,
        "token_validation_failed",
    ),
    "TokenService.list_tokens": (
        lambda c, i: c.tokens.list_tokens(organization_id=i.org, page_size=31),
        ScalekitBadRequestException,
        "invalid_argument",
    ),
    "TokenService.update_token": (
        lambda c, i: c.tokens.update_token("apit_404404", description="x"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "TokenService.invalidate_token": (
        lambda c, i: c.tokens.invalidate_token("apit_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "TokenService.rotate_token": (
        lambda c, i: c.tokens.rotate_token("apit_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "M2MClientService.create_organization_client": (
        lambda c, i: c.m2m_client.create_organization_client("org_404404", {"name": "x"}),
        ScalekitNotFoundException,
        "not_found",
    ),
    "M2MClientService.get_organization_client": (
        lambda c, i: c.m2m_client.get_organization_client(i.org, "m2morg_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "M2MClientService.update_organization_client": (
        lambda c, i: c.m2m_client.update_organization_client(i.org, "m2morg_404404", {"description": "x"}),
        ScalekitNotFoundException,
        "not_found",
    ),
    "M2MClientService.delete_organization_client": (
        lambda c, i: c.m2m_client.delete_organization_client(i.org, "m2morg_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "M2MClientService.list_organization_clients": (
        lambda c, i: c.m2m_client.list_organization_clients(i.org, page_size=5),
        ScalekitBadRequestException,
        "invalid_argument",
    ),
    "M2MClientService.add_organization_client_secret": (
        lambda c, i: c.m2m_client.add_organization_client_secret(i.org, "m2morg_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "M2MClientService.remove_organization_client_secret": (
        lambda c, i: c.m2m_client.remove_organization_client_secret(i.org, i.client_id, "sks_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "OrganizationService.create_organization": (
        lambda c, i: c.organization.create_organization(display_name=""),
        ScalekitBadRequestException,
        "invalid_argument",
    ),
    "OrganizationService.get_organization": (
        lambda c, i: c.organization.get_organization("org_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "OrganizationService.get_organization_by_external_id": (
        lambda c, i: c.organization.get_organization_by_external_id(unique("nobody")),
        ScalekitNotFoundException,
        "not_found",
    ),
    "OrganizationService.list_organizations": (
        lambda c, i: c.organization.list_organizations(page_size=1000),
        ScalekitBadRequestException,
        "invalid_argument",
    ),
    "OrganizationService.delete_organization": (
        lambda c, i: c.organization.delete_organization("org_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "UserService.create_user_and_membership": (
        lambda c, i: c.users.create_user_and_membership("org_404404", authgate.CreateUser(email="a@b.test")),
        ScalekitNotFoundException,
        "not_found",
    ),
    "UserService.list_organization_users": (
        lambda c, i: c.users.list_organization_users("org_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "OrganizationService.update_organization": (
        lambda c, i: c.organization.update_organization(i.org, authgate.UpdateOrganization()),
        ScalekitBadRequestException,
        "invalid_argument",
    ),
    "OrganizationService.update_organization_by_external_id": (
        lambda c, i: c.organization.update_organization_by_external_id(unique("nobody"), display_name="x"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "UserService.get_user": (
        lambda c, i: c.users.get_user("usr_404404"),
        ScalekitNotFoundException,
        "not_found",
    ),
    "UserService.get_user_by_external_id": (
        lambda c, i: c.users.get_user_by_external_id(unique("nobody")),
        ScalekitNotFoundException,
        "not_found",
    ),
    "UserService.list_users": (
        lambda c, i: c.users.list_users(page_size=1000),
        ScalekitBadRequestException,
        "invalid_argument",
    ),
    "UserService.update_user": (
        lambda c, i: c.users.update_user("usr_404404", authgate.UpdateUser(external_id="x")),
        ScalekitNotFoundException,
        "not_found",
    ),
    "UserService.update_user_by_external_id": (
        lambda c, i: c.users.update_user_by_external_id(i.user_external, authgate.UpdateUser()),
        ScalekitBadRequestException,
        "invalid_argument",
    ),
    "UserService.delete_user": (
        lambda c, i: c.users.delete_user(i.org),
        ScalekitBadRequestException,
        "invalid_argument",
    ),
    "UserService.delete_user_by_external_id": (
        lambda c, i: c.users.delete_user_by_external_id(unique("nobody")),
        ScalekitNotFoundException,
        "not_found",
    ),
    "UserService.create_membership": (
        lambda c, i: c.users.create_membership(i.org, i.user, authgate.CreateMembership(["admin"])),
        ScalekitConflictException,
        "already_exists",
    ),
    "UserService.create_membership_by_external_id": (
        lambda c, i: c.users.create_membership_by_external_id("org_404404", i.user_external),
        ScalekitNotFoundException,
        "not_found",
    ),
    "UserService.update_membership": (
        lambda c, i: c.users.update_membership("org_404404", i.user, authgate.UpdateMembership(["x"])),
        ScalekitNotFoundException,
        "not_found",
    ),
    "UserService.update_membership_by_external_id": (
        lambda c, i: c.users.update_membership_by_external_id(
            i.org, i.user_external, authgate.UpdateMembership(["has space"])
        ),
        ScalekitBadRequestException,
        "invalid_argument",
    ),
    "UserService.delete_membership": (
        lambda c, i: c.users.delete_membership("org_404404", i.user),
        ScalekitNotFoundException,
        "not_found",
    ),
    "UserService.delete_membership_by_external_id": (
        lambda c, i: c.users.delete_membership_by_external_id(i.org, unique("nobody")),
        ScalekitNotFoundException,
        "not_found",
    ),
    "ScalekitClient.validate_access_token_and_get_claims": (
        lambda c, i: c.validate_access_token_and_get_claims("not.a.jwt"),
        ScalekitValidateTokenFailureException,
        "token_malformed",
    ),
    "ScalekitClient.validate_token": (
        lambda c, i: c.validate_token("not.a.jwt"),
        ScalekitValidateTokenFailureException,
        "token_malformed",
    ),
    "ScalekitClient.generate_client_token": (
        lambda c, i: c.generate_client_token(i.client_id, "wrong-secret"),
        ScalekitUnauthorizedException,
        "invalid_client",
    ),
}


@pytest.mark.parametrize("operation", sorted(FAILURES))
def test_failure_has_the_exact_code_and_changes_nothing(target: Target, ids: Ids, operation: str) -> None:
    call, cls, code = FAILURES[operation]
    before = target.snapshot()
    with pytest.raises(cls) as caught:
        call(target.client, ids)
    assert caught.value.code == code, f"{operation}: {caught.value.code}: {caught.value}"
    assert target.snapshot() == before, f"{operation} changed the store"


def test_failing_checks_answer_false_or_raise_and_change_nothing(target: Target, ids: Ids) -> None:
    before = target.snapshot()
    assert target.client.validate_access_token("not.a.jwt") is False
    with pytest.raises(ScalekitInsufficientScopeException) as caught:
        target.client.verify_scopes(ids.jwt, ["admin"])
    assert caught.value.code == "insufficient_scope" and caught.value.missing_scopes == ["admin"]
    assert target.client.verify_scopes(ids.jwt, ["read"]) is True
    assert target.snapshot() == before


def test_local_with_a_bad_url_is_a_typed_error(tmp_path: Path) -> None:
    for url, code in (
        ("mysql://localhost/authgate", "invalid_argument"),
        ("not a url", "invalid_argument"),
        (f"sqlite://{tmp_path}/missing-dir/authgate.db", "unavailable"),
    ):
        with pytest.raises(ScalekitException) as caught:
            ScalekitClient.local(url)
        assert caught.value.code == code, f"{url}: {caught.value.code}: {caught.value}"
    assert not (tmp_path / "missing-dir").exists()


def test_embedded_client_cannot_fetch_an_environment_token(tmp_path: Path) -> None:
    local = ScalekitClient.local(f"sqlite://{tmp_path / 'a.db'}")
    with pytest.raises(ScalekitBadRequestException) as caught:
        local.get_client_access_token()
    assert caught.value.code == "failed_precondition"


def test_jwt_validator_failures(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/keys"
    v = JwtValidator(issuer="https://issuer.test", jwks_url=dead, jwks_fetch_timeout=2.0)
    with pytest.raises(ScalekitKeysUnavailableException) as caught:
        v.refresh()
    assert caught.value.code == "keys_unavailable"
    assert v.key_status()["consecutive_failures"] >= 1
    with pytest.raises(ScalekitValidateTokenFailureException) as bad:
        v.validate("not.a.jwt")
    assert bad.value.code == "token_malformed"
    with pytest.raises(ScalekitValidateTokenFailureException) as bad_verify:
        v.verify("not.a.jwt")
    assert bad_verify.value.code == "token_malformed"
    with pytest.raises(ScalekitValidateTokenFailureException) as bad_try:
        v.try_validate("not.a.jwt")
    assert bad_try.value.code == "token_malformed"
    with pytest.raises(ScalekitValidateTokenFailureException) as bad_try_verify:
        v.try_verify("not.a.jwt")
    assert bad_try_verify.value.code == "token_malformed"


def test_jwt_validator_refresh_and_clear_token_cache(target: Target, ids: Ids) -> None:
    v = target.client.jwt_validator()
    first = v.verify(ids.jwt)
    fetches = v.key_status()["fetch_count"]
    v.refresh()
    assert v.key_status()["fetch_count"] == fetches + 1
    v.clear_token_cache()
    assert v.verify(ids.jwt).claims == first.claims
    with pytest.raises(ScalekitBadRequestException) as caught:
        target.client.jwt_validator(issuer="")
    assert caught.value.code == "invalid_argument"


def test_client_credentials_failures(server: Server) -> None:
    wrong = ClientCredentials(f"{server.url}/oauth/token", server.client_id, "wrong-secret-wrong-secret-wrong")
    for call in (wrong.get_token, wrong.get_access_token, wrong.authorization_header):
        with pytest.raises(ScalekitUnauthorizedException) as caught:
            call()
        assert caught.value.code == "invalid_client"
    wrong.invalidate()  # nothing cached: a no-op, not an error
    with pytest.raises(ScalekitUnauthorizedException):
        wrong.get_token()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
