"""The workflows' set-up steps, run the way GitHub's ubuntu runner runs them: as an unprivileged user with
passwordless sudo, setup-python's python3.11 in a tool cache on that user's PATH only (sudo's secure_path drops it),
each `run:` in the checkout through bash; the venv must be built from that interpreter, not root's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# What the runner runs a `run:` with (docs.github.com, "jobs.<job_id>.steps[*].shell"): no `shell:` -> `bash -e`,
# `shell: bash` -> the stricter form. Any other shell is not something these steps use: the test says so.
SHELLS = {None: ["bash", "-e"], "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"]}
SETUP_TIMEOUT_S = 1200  # a first `pip install -e .[dev]` on a busy 2-core machine
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def log(message: str) -> None:
    print(f"[workflow-setup {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(argv: list[str], timeout_s: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False, **kwargs)


def checked(argv: list[str], timeout_s: float = 60, **kwargs) -> subprocess.CompletedProcess:
    done = run(argv, timeout_s, **kwargs)
    assert done.returncode == 0, f"{argv} exited {done.returncode}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


def setup_steps(path: Path) -> list[tuple[str, dict]]:
    """Every `run:` step of the workflow's job up to and including its set-up step (`make setup`), with the
    expressions the runner would fill in (a matrix takes its first value; other contexts are empty here)."""
    workflow = yaml.safe_load(path.read_text())
    (job,) = workflow["jobs"].values()
    matrix = job.get("strategy", {}).get("matrix", {})

    def expand(text: str) -> str:
        def value(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("matrix."):
                return str(matrix[name.removeprefix("matrix.")][0])
            return ""
        return EXPRESSION.sub(value, str(text))

    default_shell = job.get("defaults", workflow.get("defaults", {})).get("run", {}).get("shell")
    steps = []
    for step in job["steps"]:
        if "run" not in step:
            continue  # actions/checkout and actions/setup-python: the fixtures below play their part
        shell = step.get("shell", default_shell)
        assert shell in SHELLS, f"{path.name}: step {step.get('name')!r} uses shell {shell!r}, not bash"
        env = {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
        steps.append((expand(step["run"]), {
            "name": step.get("name", step["run"][:40]), "shell": shell,
            "env": {key: expand(val) for key, val in env.items()}}))
        if "make setup" in step["run"]:
            return steps
    raise AssertionError(f"{path.name}: no step runs `make setup`")


class Runner:
    """A throwaway user standing in for GitHub's `runner`: NOPASSWD sudo, a tool cache with setup-python's
    interpreter on its PATH only, checkouts it owns; removed (user, home, sudoers file) on close."""

    def __init__(self, python: Path) -> None:
        self.name = f"gdrunner{os.getpid() % 100000}"
        self.sudoers = Path("/etc/sudoers.d") / self.name
        self.home = Path("/home") / self.name
        checked(["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", self.name])
        self.sudoers.write_text(f"{self.name} ALL=(ALL) NOPASSWD:ALL\n")
        self.sudoers.chmod(0o440)
        checked(["visudo", "-cf", str(self.sudoers)])
        # setup-python's layout: /opt/hostedtoolcache/Python/<version>/x64/bin/python3.11, the bin dir on PATH.
        self.toolcache = self.home / "hostedtoolcache" / "Python" / "3.11.x" / "x64"
        (self.toolcache / "bin").mkdir(parents=True)
        (self.toolcache / "bin" / "python3.11").symlink_to(python)
        (self.home / "_temp").mkdir()
        checked(["chown", "-R", f"{self.name}:{self.name}", str(self.home)])

    def close(self) -> None:
        self.sudoers.unlink(missing_ok=True)
        done = run(["userdel", "--force", "--remove", self.name], 60)
        log(f"removed user {self.name} (userdel exit {done.returncode}: {done.stderr.strip()})")
        shutil.rmtree(self.home, ignore_errors=True)

    def env(self, checkout: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment a step sees on the runner (the parts that matter here)."""
        path = ":".join([str(self.toolcache / "bin"), str(self.toolcache), f"{self.home}/.local/bin",
                         "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        return {"PATH": path, "HOME": str(self.home), "USER": self.name, "LOGNAME": self.name, "SHELL": "/bin/bash",
                "LANG": "C.UTF-8", "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(checkout),
                "RUNNER_TEMP": str(self.home / "_temp"), "RUNNER_TOOL_CACHE": str(self.home / "hostedtoolcache"),
                "GITHUB_STEP_SUMMARY": str(self.home / "_temp" / "step_summary.md"),
                "pythonLocation": str(self.toolcache), **(extra or {})}

    def checkout(self, name: str) -> Path:
        """A copy of this work tree as it is (tracked and untracked files, uncommitted edits; not .venv/ or runs/,
        which git ignores), owned by the user, where actions/checkout puts it."""
        dest = self.home / "work" / name / name
        listed = checked(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        copied = 0
        for rel in dict.fromkeys(listed.stdout.split("\0")):
            src = ROOT / rel
            if not rel or not os.path.lexists(src) or rel.split("/")[0] in (".venv", "runs"):
                continue  # deleted in the work tree, or never part of a checkout
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel, follow_symlinks=False)
            copied += 1
        checked(["chown", "-R", f"{self.name}:{self.name}", str(self.home / "work")])
        log(f"checkout {dest}: {copied} files of {ROOT}")
        return dest

    def step(self, checkout: Path, script: str, *, shell: str | None = None, env: dict | None = None,
             timeout_s: float = 120) -> subprocess.CompletedProcess:
        """`script` as the runner runs a `run:`: written to a file in RUNNER_TEMP, bash on it, as the user, in the
        checkout, with the runner's environment and nothing of root's."""
        file = self.home / "_temp" / f"step-{time.monotonic_ns()}.sh"
        file.write_text(script)
        shutil.chown(file, self.name, self.name)
        variables = [f"{key}={val}" for key, val in self.env(checkout, env).items()]
        argv = ["runuser", "-u", self.name, "--", "env", "-i", *variables, *SHELLS[shell], str(file)]
        started = time.monotonic()
        done = run(argv, timeout_s, cwd=checkout, stdin=subprocess.DEVNULL)
        log(f"  exit {done.returncode} after {time.monotonic() - started:.0f} s: {script.strip().splitlines()[0]}")
        return done


def toolcache_python(user_can_run) -> Path:
    """setup-python's stand-in: this venv's base interpreter when the user can run it, else the system's python3
    (the tool cache holds a symlink to it named python3.11: another path than the one root's PATH finds)."""
    for candidate in (Path(sys._base_executable), Path(os.path.realpath(shutil.which("python3", path="/usr/bin")
                                                                          or "/usr/bin/python3"))):
        if user_can_run(candidate):
            return candidate
    raise AssertionError("no Python >= 3.11 that an unprivileged user can run (this venv's base lies under /root?)")


@pytest.fixture(scope="module")
def runner():
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.fail("the workflows' set-up is exercised as root on Linux only (it creates the runner's user and its "
                    "sudoers file, as CI's machine allows); hint: run the tests as root, as `.ci/run` does, or "
                    "deselect it with `-m 'not slow'`")
    for tool in ("sudo", "useradd", "runuser", "visudo", "git", "make"):
        assert shutil.which(tool), f"{tool} is missing; hint: make test-deps (scripts/install-system-deps.sh --test)"

    def user_can_run(python: Path) -> bool:
        probe = ["runuser", "-u", "nobody", "--", str(python), "-c",
                 "import sys, venv; sys.exit(sys.version_info < (3, 11))"]
        return run(probe, 60).returncode == 0

    python = toolcache_python(user_can_run)
    made = Runner(python)
    log(f"user {made.name}, tool cache {made.toolcache}/bin/python3.11 -> {python}")
    try:
        yield made
    finally:
        made.close()


def plan_experiments(checkout: Path, plan: str = "experiments/gamedays/ci-gate.yaml") -> list[str]:
    """The experiment files the plan lists, relative to the checkout."""
    entries = yaml.safe_load((checkout / plan).read_text())["experiments"]
    files = [os.path.normpath(Path(plan).parent / entry["experiment"]) for entry in entries]
    assert files and all((checkout / file).is_file() for file in files), files
    return files


def venv_home(checkout: Path) -> str:
    config = dict(line.split(" = ", 1) for line in (checkout / ".venv" / "pyvenv.cfg").read_text().splitlines()
                  if " = " in line)
    return config["home"]


@pytest.fixture(scope="module")
def set_up(runner):
    """Each workflow's `run:` steps up to its set-up, in a fresh checkout; the set-up itself once per distinct
    command (the workflows share one today), so the venv is built as often as there are different set-ups."""
    plans = {path.name: setup_steps(path) for path in WORKFLOWS}
    assert plans, "no workflows under .github/workflows"
    by_setup: dict[str, list[str]] = {}
    for name, steps in plans.items():
        by_setup.setdefault(steps[-1][0], []).append(name)
    log(f"{len(plans)} workflows, {len(by_setup)} distinct set-up step(s): {by_setup}")
    results = {}
    for number, (setup, names) in enumerate(by_setup.items()):
        checkout = runner.checkout(f"gameday{number}")
        for name in names:
            for script, step in plans[name][:-1]:
                log(f"{name}: step {step['name']!r}")
                done = runner.step(checkout, script, shell=step["shell"], env=step["env"])
                assert done.returncode == 0, f"{name}: {step['name']}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        _, step = plans[names[0]][-1]
        log(f"{', '.join(names)}: step {step['name']!r} (the set-up)")
        done = runner.step(checkout, setup, shell=step["shell"], env=step["env"], timeout_s=SETUP_TIMEOUT_S)
        results[setup] = (names, checkout, done)
    return results


def test_both_workflows_install_with_the_same_set_up_step():
    setups = {path.name: setup_steps(path)[-1][0] for path in WORKFLOWS}
    assert {"pre-release-gate.yml", "weekly-gameday.yml"} <= setups.keys()
    assert len(set(setups.values())) == 1, setups  # so the integration test below builds one venv, not two


def test_the_set_up_step_builds_the_venv_from_setup_pythons_interpreter_and_the_next_steps_run(runner, set_up):
    for setup, (names, checkout, done) in set_up.items():
        assert done.returncode == 0, f"{names}: {setup!r} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        assert venv_home(checkout) == str(runner.toolcache / "bin"), (names, venv_home(checkout))
        helped = runner.step(checkout, ".venv/bin/gameday --help\n")
        assert helped.returncode == 0 and "validate" in helped.stdout, helped.stdout + helped.stderr
        # The next steps call the venv's gameday through sudo, as the runner does: here on the ci-gate plan's
        # experiments (`gameday validate` takes experiments, not plans; a whole `gameday day` is a scenario test).
        validated = runner.step(checkout, f"sudo .venv/bin/gameday validate {' '.join(plan_experiments(checkout))}\n",
                                timeout_s=300)
        assert validated.returncode == 0, validated.stdout[-3000:] + validated.stderr[-3000:]


def test_without_naming_the_interpreter_sudo_make_builds_from_roots_python(runner):
    """The bug of issue #20, shown to be visible to this test: `sudo make setup` alone takes python3.11 from
    sudo's secure_path, not the tool cache's."""
    plan = setup_steps(WORKFLOWS[0])
    setup, step = plan[-1]
    plain = re.sub(r'\s+PYTHON="[^"]*"', "", setup)
    assert plain != setup and "sudo make setup" in plain, setup
    checkout = runner.checkout("gameday-plain")
    done = runner.step(checkout, plain, shell=step["shell"], env=step["env"], timeout_s=SETUP_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    home = venv_home(checkout)
    log(f"`{plain.strip()}` built the venv from {home}, not {runner.toolcache / 'bin'}")
    assert home != str(runner.toolcache / "bin")
