"""Run progress: --quiet, default and --verbose decide what reaches stderr; the result line goes to stdout."""

import logging

import pytest
import tqdm as tqdm_module

from wirelora import progress
from wirelora.cli import main

RUN = [
    "run",
    "leave-only-mlp",
    "--set",
    "trainer.rounds=6",
    "--set",
    "trainer.eval_every=2",
    "--set",
    "oracle.enabled=false",
    "--set",
    "task.train_per_device=16",
    "--set",
    "task.eval_per_device=8",
    "--set",
    "events=[{round: 3, leave: [d0]}]",
]


@pytest.fixture(autouse=True)
def _restore_logger():
    logger = logging.getLogger(progress.LOGGER)
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:], logger.level = handlers, level


@pytest.mark.parametrize("flag", ["--quiet", None, "--verbose"])
def test_verbosity_decides_what_is_logged(tmp_path, capsys, flag):
    argv = [*RUN, "--out", str(tmp_path / "r"), *([flag] if flag else ["--no-progress"])]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.startswith("wirelora run: 6 rounds, retain_loss ") and out.count("\n") == 1, out
    lines = err.splitlines()
    if flag == "--quiet":
        assert err == ""  # no bar, no messages
        return
    assert "wirelora run: leave-only-mlp: 6 rounds, 6 devices, on cpu" in lines
    assert "wirelora run: round 3: d0 leaves" in lines
    per_round = [line for line in lines if line.startswith("wirelora run: round ") and "/5: " in line]
    if flag is None:
        assert per_round == []
    else:  # the evaluated rounds (every 2nd, and the last)
        assert [line.split()[3] for line in per_round] == ["0/5:", "2/5:", "4/5:", "5/5:"]
        assert "retain_loss" in per_round[0] and "forget_loss" in per_round[-1]


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "leave-only-mlp", "-q", "-v"])
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_warnings_are_marked_and_handler_is_not_stacked(capsys):
    progress.configure_logging(0, prefix="wirelora x")
    logger = progress.configure_logging(-1, prefix="wirelora x")
    assert sum(isinstance(h, progress._TqdmHandler) for h in logger.handlers) == 1
    logging.getLogger("wirelora.some.module").info("hidden when quiet")
    logging.getLogger("wirelora.some.module").warning("shown")
    assert capsys.readouterr().err == "wirelora x: warning: shown\n"
    with pytest.raises(ValueError, match="verbosity=2"):
        progress.configure_logging(2)


def test_progress_bar_is_the_text_bar_without_ipywidgets(monkeypatch):
    monkeypatch.setattr(progress.importlib.util, "find_spec", lambda name: None)
    bar = progress.progress_bar(range(3), disable=True)
    assert type(bar) is tqdm_module.std.tqdm  # tqdm.auto would be the notebook bar inside Jupyter
