"""A run directory another user can write is refused, and links planted in one are never followed
(issue 18: in a world-writable teamrun/, links at meta.json.tmp and columns/0.bin made a root job
overwrite their targets). Other users are played by chown to uid 65534 (the tests run as root)."""

from __future__ import annotations

import os

import pytest

from lossmon.rundir.columns import ColumnWriter
from lossmon.rundir.layout import RunDirError, create_run_dir
from lossmon.rundir.meta import write_meta
from lossmon.rundir.runlog import RunLogWriter

OTHER = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


@pytest.fixture
def victim(tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep me")
    return target


def test_a_world_writable_run_dir_is_refused(tmp_path):
    team = tmp_path / "teamrun"
    team.mkdir()
    os.chmod(team, 0o777)
    with pytest.raises(RunDirError, match="writable by other users") as e:
        create_run_dir("x", team)
    assert "\n" not in str(e.value)


@needs_root
def test_a_run_dir_owned_by_another_user_is_refused(tmp_path):
    team = tmp_path / "teamrun"
    team.mkdir(mode=0o755)
    os.chown(team, OTHER, OTHER)
    with pytest.raises(RunDirError, match="owned by uid 65534"):
        create_run_dir("x", team)


@needs_root
def test_a_file_planted_by_another_user_is_refused(tmp_path, victim):
    team = tmp_path / "teamrun"
    team.mkdir(mode=0o755)
    (team / "meta.json.tmp").symlink_to(victim)
    os.lchown(team / "meta.json.tmp", OTHER, OTHER)
    with pytest.raises(RunDirError, match="meta.json.tmp.*owned by uid 65534"):
        create_run_dir("x", team)
    cols = tmp_path / "team2" / "columns"
    cols.mkdir(parents=True)
    (cols / "0.bin").symlink_to(victim)
    os.lchown(cols / "0.bin", OTHER, OTHER)
    with pytest.raises(RunDirError, match="0.bin.*owned by uid 65534"):
        create_run_dir("x", tmp_path / "team2")


def test_a_run_dir_in_a_world_writable_folder_without_sticky_bit_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(RunDirError, match="every user can write it"):
        create_run_dir("x", shared / "mine")
    with pytest.raises(RunDirError, match="every user can write it"):
        create_run_dir("x", root=shared)
    os.chmod(shared, 0o1777)  # like /tmp: others cannot rename what is ours
    assert create_run_dir("x", shared / "mine").is_dir() and create_run_dir("x", root=shared).is_dir()


def test_a_new_run_dir_is_not_writable_by_others(tmp_path):
    old = os.umask(0)
    try:
        path = create_run_dir("x", tmp_path / "fresh")
        auto = create_run_dir("x", root=tmp_path / "root")
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o022 == 0 and os.stat(auto).st_mode & 0o022 == 0


def test_links_in_a_run_dir_are_never_followed(tmp_path, victim):
    run = create_run_dir("x", tmp_path / "run")
    (run / "meta.json.tmp").symlink_to(victim)
    write_meta(run, {"state": "running"})
    assert victim.read_text() == "keep me" and not (run / "meta.json").is_symlink()
    (run / "run.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")  # dangling: O_CREAT would make it
    with pytest.raises(OSError):
        RunLogWriter(run / "run.jsonl")
    assert not (tmp_path / "elsewhere.jsonl").exists()
    (run / "columns").mkdir(mode=0o755)
    (run / "columns" / "0.bin").symlink_to(victim)
    (run / "columns" / "names.json.tmp").symlink_to(victim)
    cols = ColumnWriter(run)
    cols.write({"loss": ([1], [0.5])})
    cols.close()
    assert victim.read_text() == "keep me" and cols.broken


def test_a_linked_columns_dir_is_not_used(tmp_path, victim):
    run = create_run_dir("x", tmp_path / "run")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run / "columns").symlink_to(elsewhere)
    cols = ColumnWriter(run)
    cols.write({"loss": ([1], [0.5])})
    cols.close()
    assert cols.broken and list(elsewhere.iterdir()) == []


def test_output_log_link_is_not_followed(tmp_path, victim):
    from lossmon.views.tui.capture import OutputCapture

    run = create_run_dir("x", tmp_path / "run")
    (run / "output.log").symlink_to(victim)
    cap = OutputCapture(run / "output.log")
    cap._keep(["hello"])
    cap.flush()
    assert victim.read_text() == "keep me"
