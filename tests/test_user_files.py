"""Files the user names that cannot be read: one line naming the file, exit 2, no traceback."""

from __future__ import annotations

import os

import pytest

from wavenet_music import cli
from wavenet_music.cli import EXIT_USAGE, main


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_config_file_that_is_not_utf8_text_is_one_line(tmp_path, capsys):
    config = tmp_path / "settings.yaml"
    config.write_bytes(b"model:\n  residual_channels: \xff\xfe\n")
    code, err = _run(capsys, "info", "--config", str(config))
    assert code == EXIT_USAGE
    line = _one_line(err)
    assert str(config) in line and "UTF-8" in line


def test_a_config_file_that_is_a_folder_is_one_line(tmp_path, capsys):
    code, err = _run(capsys, "info", "--config", str(tmp_path))
    assert code == EXIT_USAGE
    assert "is a folder" in _one_line(err)


def test_a_run_named_by_a_file_is_one_line(tmp_path, capsys):
    not_a_run = tmp_path / "notes.txt"
    not_a_run.write_text("hello")
    code, err = _run(capsys, "generate", str(not_a_run), "--out", str(tmp_path / "x.wav"))
    assert code == EXIT_USAGE
    assert "is a file, not a run directory" in _one_line(err)
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_run_folder_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints").chmod(0)
    try:
        code, err = _run(capsys, "generate", str(run), "--out", str(tmp_path / "x.wav"))
    finally:
        (run / "checkpoints").chmod(0o755)
    assert code == EXIT_USAGE
    assert "Permission denied" in _one_line(err)


def test_any_os_error_a_command_meets_is_one_line_naming_the_file(monkeypatch, capsys):
    """The net under every file access: an OSError no handler named (here the one an
    unreadable run folder raises, which root cannot provoke) is still one line, exit 2."""

    def unreadable(args):
        raise PermissionError(13, "Permission denied", "RUN/checkpoints")

    monkeypatch.setattr(cli, "cmd_info", unreadable)
    code, err = _run(capsys, "info")
    assert code == EXIT_USAGE
    assert _one_line(err) == "wavenet-music info: error: RUN/checkpoints: Permission denied"


def test_too_many_open_files_says_the_limit_and_how_to_raise_it(monkeypatch, capsys):
    import errno
    import resource

    def full(args):
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(cli, "cmd_info", full)
    monkeypatch.setattr(resource, "getrlimit", lambda _: (256, 10240))
    code, err = _run(capsys, "info")
    assert code == EXIT_USAGE
    assert _one_line(err) == (
        "wavenet-music info: error: Too many open files (this process may hold 256 at once; "
        "`ulimit -n 4096` raises it)"
    )


def test_a_file_name_holding_a_line_break_keeps_the_error_on_one_line(tmp_path, capsys):
    """Linux and macOS allow any byte but / in a name: a line break in one split the error
    in two lines, the second looking like a line of its own."""
    audio = tmp_path / "take\nwavenet-music: done.wav"
    code, err = _run(capsys, "transcribe", str(audio), "--out", str(tmp_path / "n.mid"))
    assert code == EXIT_USAGE
    assert _one_line(err) == (
        f"wavenet-music transcribe: error: {tmp_path}/take\\nwavenet-music: done.wav is not a file"
    )
