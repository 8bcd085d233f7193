"""A password never reaches an output, in any form of connection string the drivers accept, and
a refused login says so instead of blaming the server (issue 11, items 7 and 8)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis

from lg_memory import catalog
from lg_memory.cli import main as lg_memory
from lg_memory.settings import redact

from services import Servers

SECRET = "S3cr3t-word"

FORMS = [
    ("postgres", f"postgresql://agent:{SECRET}@127.0.0.1:9/db"),
    ("postgres", f"postgresql://agent@127.0.0.1:9/db?password={SECRET}"),
    ("postgres", f"postgresql://agent@127.0.0.1:9/db?sslmode=disable&password={SECRET}"),
    ("postgres", f"host=127.0.0.1 port=9 user=agent password={SECRET} dbname=db"),
    ("postgres", f"host=127.0.0.1 port=9 user=agent password='{SECRET} x' dbname=db"),
    ("postgres", f"postgresql://agent:pa#{SECRET}@127.0.0.1:9/db"),
    ("postgres", f"postgresql://agent:pa/{SECRET}@127.0.0.1:9/db"),
    ("postgres", f"postgresql://agent:pa?{SECRET}@127.0.0.1:9/db"),
    ("postgres", f"postgresql://agent:{SECRET}@[::1/db"),
    ("redis", f"redis://:{SECRET}@127.0.0.1:9/0"),
    ("redis", f"redis://127.0.0.1:9/0?password={SECRET}"),
    ("redis", f"rediss://user:{SECRET}@127.0.0.1:9"),
    ("mongodb", f"mongodb://agent:{SECRET}@127.0.0.1:9/?authSource=admin"),
]


@pytest.mark.parametrize(("type_", "url"), FORMS, ids=[u.split(SECRET)[0] for _, u in FORMS])
def test_no_form_of_a_password_is_printed(
    type_: str,
    url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert SECRET not in redact(url)
    monkeypatch.setenv("CHECKPOINT_CONNECT_TIMEOUT", "1")
    code = lg_memory(["info", "--type", type_, "--connection-string", url,
                      "--project", str(tmp_path)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("lg-memory: error: ") and len(err.strip().splitlines()) == 1
    assert SECRET not in out + err


@pytest.mark.parametrize("url", [u for _, u in FORMS])
def test_the_template_validator_never_repeats_the_string(url: str) -> None:
    for type_ in catalog.BACKENDS:
        assert SECRET not in catalog.connection_error(type_, url.replace("://", ":", 1))
        assert SECRET not in catalog.connection_error(type_, url)


def test_a_wrong_postgres_password_says_authentication_failed(
    servers: Servers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = servers.url("postgres")
    user, password = url.split("://")[1].split("@")[0].split(":")
    wrong = url.replace(f":{password}@", f":not-{SECRET}@")
    code = lg_memory(["info", "--type", "postgres", "--connection-string", wrong,
                      "--project", str(tmp_path)])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 1
    assert f"authentication failed for user {user}" in err
    assert SECRET not in err and "is the server running" not in err


def test_a_wrong_redis_password_says_authentication_failed(
    servers: Servers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = servers.url("redis")
    user = f"u{uuid.uuid4().hex[:8]}"
    admin = redis.Redis.from_url(url)
    admin.acl_setuser(user, enabled=True, passwords=["+right-pw"], keys="*", commands=["+@all"])
    try:
        host = url.split("://")[1].split("/")[0].split("@")[-1]
        wrong = f"redis://{user}:{SECRET}@{host}"
        code = lg_memory(["info", "--type", "redis", "--connection-string", wrong,
                          "--project", str(tmp_path)])  # fmt: skip
        _, err = capsys.readouterr()
    finally:
        admin.acl_deluser(user)
        admin.close()
    assert code == 1
    assert f"authentication failed for user {user}" in err
    assert SECRET not in err
