"""Load profiles: the shape returns each stage in turn, scaling keeps proportions, typos fail with their location."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gameday.base.errors import InvalidInput
from gameday.cli import cli
from scenarios.profiles import (
    DEFAULT_MIX,
    Profile,
    Stage,
    load_profile,
    mix_at,
    rate_at,
    scaled,
    shipped,
    stage_at,
    stage_span,
    tick,
    total_s,
    with_common_options,
)

closed_stage = st.builds(Stage, duration_s=st.floats(0.5, 600), users=st.integers(0, 5000),
                         spawn_rate=st.floats(0.1, 1000))
open_stage = st.builds(Stage, duration_s=st.floats(0.5, 600), rate_per_s=st.floats(0, 1e5))
profiles = st.builds(Profile, name=st.just("p"), stages=st.lists(closed_stage | open_stage, min_size=1, max_size=8))


def _starts(profile: Profile) -> list[float]:
    starts, t = [], 0.0
    for stage in profile.stages:
        starts.append(t)
        t += stage.duration_s
    return starts


@given(profiles, st.floats(0, 0.999), st.integers(1, 64))
def test_tick_returns_the_stage_running_at_each_moment(profile, fraction, schedulers):
    for start, stage in zip(_starts(profile), profile.stages):
        answer = tick(profile, start + fraction * stage.duration_s, schedulers)
        if stage.is_open:
            assert answer.open_model and answer.users == schedulers
            assert rate_at(profile, start + fraction * stage.duration_s) == stage.rate_per_s
        else:
            assert (answer.users, answer.spawn_rate, answer.open_model) == (stage.users, stage.spawn_rate, False)


@given(profiles, st.floats(0, 1e6))
def test_the_shape_ends_the_test_after_the_last_stage(profile, extra_s):
    assert tick(profile, total_s(profile) + extra_s) is None


@given(profiles, st.floats(1, 100_000))
def test_scaling_hits_the_duration_and_keeps_each_stage_share(profile, duration_s):
    out = scaled(profile, duration_s)
    assert total_s(out) == pytest.approx(duration_s)
    for before, after in zip(profile.stages, out.stages):
        assert after.duration_s / duration_s == pytest.approx(before.duration_s / total_s(profile))
        assert (after.users, after.rate_per_s) == (before.users, before.rate_per_s)


def test_every_shipped_profile_is_valid_and_the_unbuilt_endpoints_weigh_nothing():
    assert set(shipped()) == {"steady", "ramp", "step", "spike-10x", "soak", "failover"}
    for name in shipped():
        profile = load_profile(name)
        assert profile.name == name
        for stage_start in _starts(profile):
            mix = mix_at(profile, stage_start)
            assert mix["ai"] == mix["static"] == mix["index"] == 0
    assert DEFAULT_MIX["health"] > 0 and DEFAULT_MIX["item"] > 0 and DEFAULT_MIX["write"] > 0


def test_spike_is_ten_times_the_baseline_then_back():
    users = [s.users for s in load_profile("spike-10x").stages]
    assert users == [users[0], 10 * users[0], users[0]]


def test_failover_is_open_model_for_the_whole_window():
    profile = load_profile("failover")
    assert all(stage.is_open and stage.rate_per_s > 0 for stage in profile.stages)


def test_a_profile_may_turn_the_new_journeys_on(tmp_path):
    path = tmp_path / "ai.yaml"
    path.write_text("name: ai\nmix: {ai: 1, static: 2}\nstages:\n  - {duration_s: 5, users: 1}\n")
    assert mix_at(load_profile(str(path)), 0) == {"ai": 1, "static": 2}


@pytest.mark.parametrize("body, location", [
    ("stages:\n  - {duration_s: 5, user: 3}\n", "stages.0.user"),
    ("stages:\n  - {duration_s: 5, users: 3, rate_per_s: 9}\n", "stages.0"),
    ("mix: {helth: 1}\nstages:\n  - {duration_s: 5, users: 3}\n", "mix.helth"),
    ("stages: []\n", "stages"),
])
def test_an_invalid_profile_names_the_file_and_the_field(tmp_path, body, location):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\n" + body)
    with pytest.raises(InvalidInput) as info:
        load_profile(str(path))
    assert str(path) in str(info.value) and location in str(info.value)


def test_the_cli_exits_2_on_an_invalid_profile_before_starting_anything(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nstages:\n  - {duration_s: 5, users: -1}\n")
    result = CliRunner().invoke(cli, ["load", str(path), "--target", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert str(path) in result.output and "stages.0.users" in result.output
    assert not (tmp_path / "runs").exists()


def test_the_cli_exits_2_on_an_unknown_profile_and_lists_the_shipped_ones():
    result = CliRunner().invoke(cli, ["load", "stedy", "--target", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "steady" in result.output and "spike-10x" in result.output


@pytest.mark.parametrize("command", [["load"], ["load-worker"]])
def test_the_load_commands_have_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_locusts_common_options_win_over_the_profile_when_given():
    steady = load_profile("steady")
    assert with_common_options(steady, None, None, None) == steady
    users = with_common_options(steady, 5, None, 5.0)
    assert [(s.users, s.spawn_rate, s.duration_s, s.is_open) for s in users.stages] == [(5, 1.0, 5.0, False)]
    assert users.mix == steady.mix
    spike = load_profile("spike-10x")
    cut = with_common_options(spike, None, None, total_s(spike) / 2)
    assert total_s(cut) == pytest.approx(total_s(spike) / 2) and cut.stages[0] == spike.stages[0]
    held = with_common_options(spike, None, None, total_s(spike) + 30)
    assert total_s(held) == pytest.approx(total_s(spike) + 30)
    assert held.stages[-1].duration_s == pytest.approx(spike.stages[-1].duration_s + 30)


@given(profiles, st.lists(st.floats(0, 5000), min_size=1, max_size=30))
def test_a_kept_stage_span_answers_as_the_walk_over_the_stages_does(profile, times):
    """The load user keeps the stage in force until the clock leaves its span (one comparison a request): at any
    time, in any order, what it uses is what stage_at says."""
    span = (None, 0.0, 0.0)
    for elapsed in sorted(times):
        if not span[1] <= elapsed < span[2]:
            span = stage_span(profile, elapsed)
        assert span[0] is stage_at(profile, elapsed)
