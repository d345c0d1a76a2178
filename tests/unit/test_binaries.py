"""Where the stack finds PostgreSQL and Redis, and whom Postgres runs as: Linux as root or as a user, macOS with
Homebrew on Apple silicon and on Intel, and nothing installed (an error naming what to install)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.base.errors import StackError
from infra.local.binaries import (
    choose_postgres,
    choose_redis,
    postgres_account,
    postgres_search_order,
    redis_search_order,
)

DEBIAN = Path("/usr/lib/postgresql/16/bin")
ARM = Path("/opt/homebrew/opt/postgresql@16/bin")
INTEL = Path("/usr/local/opt/postgresql@16/bin")


def _choose(platform: str, uid: int, installed: set[Path], **facts) -> object:
    """The choice on a machine where only `installed` directories hold the server binaries."""
    facts = {"on_path": None, "pg_config_bindir": None} | facts
    return choose_postgres(platform, uid, postgres_search_order(platform, **facts), installed.__contains__)


def test_linux_as_root_takes_debians_newest_and_runs_as_postgres():
    older = Path("/usr/lib/postgresql/15/bin")
    chosen = _choose("linux", 0, {DEBIAN, older}, debian_bindirs=[DEBIAN, older])
    assert (chosen.bindir, chosen.run_as) == (DEBIAN, "postgres")


def test_linux_as_a_user_runs_postgres_as_that_user_and_prefers_path():
    on_path = Path("/home/me/pg/bin")
    chosen = _choose("linux", 1000, {DEBIAN, on_path}, on_path=on_path, debian_bindirs=[DEBIAN])
    assert (chosen.bindir, chosen.run_as) == (on_path, None)


@pytest.mark.parametrize("prefix", [ARM, INTEL], ids=["apple-silicon", "intel"])
def test_macos_finds_homebrews_keg_only_postgres_and_runs_it_as_the_engineer(prefix):
    chosen = _choose("darwin", 501, {prefix})
    assert (chosen.bindir, chosen.run_as) == (prefix, None)


def test_macos_prefers_what_pg_config_says_and_a_custom_brew_prefix_is_searched():
    custom = Path("/Users/me/homebrew/opt/postgresql@16")
    assert _choose("darwin", 501, {ARM, custom / "bin"}, brew_prefix=custom).bindir == custom / "bin"
    assert _choose("darwin", 501, {ARM, INTEL}, pg_config_bindir=INTEL).bindir == INTEL


def test_macos_as_root_is_refused_with_what_to_do():
    with pytest.raises(StackError, match="as root on macOS refused") as refused:
        _choose("darwin", 0, {ARM})
    assert "not with sudo" in refused.value.hint
    assert postgres_account("darwin", 501) is None and postgres_account("linux", 0) == "postgres"


@pytest.mark.parametrize(("platform", "install"), [("darwin", "brew install postgresql@16"),
                                                   ("linux", "apt-get install -y postgresql")])
def test_no_postgres_anywhere_names_what_to_install(platform, install):
    with pytest.raises(StackError, match="finding the PostgreSQL server binaries") as missing:
        _choose(platform, 1000, set(), debian_bindirs=[DEBIAN])
    assert install in missing.value.hint
    assert "hint: " + install in str(missing.value)
    assert str(DEBIAN if platform == "linux" else ARM) in str(missing.value)  # says where it looked


def test_redis_from_homebrew_on_either_mac_and_a_clear_error_when_missing():
    for prefix in ("/opt/homebrew", "/usr/local"):
        server = Path(prefix) / "opt/redis/bin/redis-server"
        assert choose_redis("darwin", redis_search_order("darwin", on_path=None), {server}.__contains__) == server
    on_path = Path("/usr/bin/redis-server")
    assert choose_redis("linux", redis_search_order("linux", on_path=on_path), {on_path}.__contains__) == on_path
    for platform, install in (("darwin", "brew install redis"), ("linux", "apt-get install -y redis-server")):
        with pytest.raises(StackError, match="finding redis-server failed") as missing:
            choose_redis(platform, redis_search_order(platform, on_path=None), set().__contains__)
        assert install in missing.value.hint
