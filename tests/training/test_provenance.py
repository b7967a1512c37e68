"""Provenance of a run: the git state is the checkout the process started from."""

from __future__ import annotations

import subprocess

import kgqa.training.provenance as provenance


def test_git_state_is_read_once_per_process(monkeypatch):
    first = provenance.git_state(refresh=True)
    assert set(first) == {"commit", "dirty"}
    calls = []
    real_run = subprocess.run

    def counting_run(*args, **kwargs):
        calls.append(args)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting_run)
    # a commit made while a run trains: the run keeps the state it started with
    monkeypatch.setattr(provenance, "_GIT_STATE", {"commit": "a" * 40, "dirty": False})
    assert provenance.git_state() == {"commit": "a" * 40, "dirty": False}
    assert calls == []
    assert provenance.git_state(refresh=True) == first and len(calls) == (2 if first["commit"] else 1)
    provenance.git_state()["commit"] = "changed"  # callers get a copy
    assert provenance.git_state() == first
