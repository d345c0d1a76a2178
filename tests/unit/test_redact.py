"""Secret values found from the experiment's declarations are blanked in every text file of a run."""

from __future__ import annotations

from gameday.redact import MASK, redact_dir, secret_values


def test_env_and_inline_secret_values_are_found_and_short_ones_ignored():
    raw = {"secrets": {"aws": {"key": {"type": "env", "key": "TOKEN"}, "inline": "literal-secret", "pin": "12"}}}
    assert secret_values(raw, {"TOKEN": "from-the-env"}) == ["literal-secret", "from-the-env"]
    assert secret_values({}, {}) == []


def test_every_text_file_is_redacted_and_binaries_are_left_alone(tmp_path):
    (tmp_path / "load").mkdir()
    (tmp_path / "journal.json").write_text('{"output": "from-the-env"}')
    (tmp_path / "load" / "locust.log").write_text("token=from-the-env\n")
    (tmp_path / "samples.bin").write_bytes(b"from-the-env")
    changed = redact_dir(tmp_path, ["from-the-env"])
    assert sorted(p.name for p in changed) == ["journal.json", "locust.log"]
    assert MASK in (tmp_path / "journal.json").read_text()
    assert "from-the-env" not in (tmp_path / "load" / "locust.log").read_text()
