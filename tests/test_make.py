"""`make test` never passes without the browser tests (issue 21, item 7): a missing
Chromium is installed where permitted, or the run stops with the one command to run."""

import os
import shutil
import subprocess
import sys

import pytest
from live_app import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_stops_with_the_command_when_chromium_is_missing_and_may_not_be_installed(tmp_path):
    env = os.environ | {"QA_NO_INSTALL": "1"}
    run = subprocess.run(["make", "-s", "chromium", f"CHROMIUM={tmp_path / 'no-chromium'}"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "sudo apt-get install chromium" in run.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_goes_on_when_chromium_is_there(tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    run = subprocess.run(["make", "-s", "chromium", f"CHROMIUM={browser}"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_the_browser_tests_fail_rather_than_skip_without_chromium(tmp_path):
    env = os.environ | {"QA_CHROMIUM": str(tmp_path / "no-chromium")}
    env.pop("QA_SKIP_BROWSER", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider",
                          "tests/test_browser.py"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode != 0
    assert "sudo apt-get install chromium" in run.stdout
