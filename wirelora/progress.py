"""What a run shows while it runs: progress bars, and the log handler the CLI writes its messages through.

Every module logs to its own logger (``logging.getLogger(__name__)``, all under the ``wirelora`` logger);
the library configures no handler, so an application (or a notebook) decides what it sees. The CLI calls
:func:`configure_logging`: ``--quiet`` = warnings only, default = run progress (events, resumes, reproduce
steps), ``--verbose`` = also one line per evaluated round. Messages are written through ``tqdm.write`` so
that they never tear a progress bar.

:func:`progress_bar` is tqdm's notebook widget where one can be drawn (in Jupyter, with ipywidgets
installed) and the text bar everywhere else: ``tqdm.auto`` without ipywidgets warns ``IProgress not found``
and draws nothing useful. huggingface_hub (under transformers and peft) imports ``tqdm.auto`` itself, so
:func:`hush_tqdm_auto` imports it first, with that one warning filtered (``wirelora.lora`` calls it).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import warnings

__all__ = ["LOGGER", "configure_logging", "hush_tqdm_auto", "progress_bar"]

LOGGER = "wirelora"  # the root of every module logger of the package

_LEVELS = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}


class _TqdmHandler(logging.Handler):
    """Writes each record on stderr (the one current at the time: pytest swaps it) above any open bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never raise into the run
            self.handleError(record)


def configure_logging(verbosity: int = 0, *, prefix: str = "wirelora") -> logging.Logger:
    """Route the ``wirelora`` loggers to stderr as ``PREFIX: message`` lines (``PREFIX: warning: ...`` for
    warnings). verbosity: -1 quiet (warnings), 0 progress (INFO), 1 verbose (DEBUG). Calling it again
    replaces the handler it installed before (the CLI runs in-process in tests)."""
    if verbosity not in _LEVELS:
        raise ValueError(f"verbosity={verbosity!r}: must be -1 (quiet), 0 or 1 (verbose)")
    logger = logging.getLogger(LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, _TqdmHandler)]:
        logger.removeHandler(handler)
    handler = _TqdmHandler()
    handler.setFormatter(_Formatter(prefix))
    logger.addHandler(handler)
    logger.setLevel(_LEVELS[verbosity])
    return logger


class _Formatter(logging.Formatter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"{self.prefix}: {level}{record.getMessage()}"


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar on stderr: the notebook widget when ipywidgets can draw it, the text bar otherwise."""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm  # the widget in Jupyter, the text bar in a terminal
    else:
        from tqdm import tqdm
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def hush_tqdm_auto() -> None:
    """Import ``tqdm.auto`` once with its ``IProgress not found`` warning (ipywidgets missing in Jupyter)
    filtered; later imports of it, such as huggingface_hub's, find it loaded and warn no more."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import tqdm.auto  # noqa: F401
