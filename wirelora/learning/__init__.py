"""wirelora.learning: base models, per-device tasks, membership events, the History and the round loop
(schedules come from :mod:`wirelora.correction.schedule`).

torch only (never cvxpy); peft/transformers load when a model is built.
"""

from wirelora.learning.config import ModelConfig, OracleConfig, RunConfig, TrainerConfig
from wirelora.learning.events import ChurnConfig, Event, members_at, sample_events, timeline
from wirelora.learning.history import History
from wirelora.learning.hooks import Batch, Correction
from wirelora.learning.loop import run
from wirelora.learning.state import TrainerState
from wirelora.learning.tasks import Task, TaskConfig, build_task, event_sets

__all__ = [
    "run",
    "History",
    "RunConfig",
    "ModelConfig",
    "TrainerConfig",
    "OracleConfig",
    "TrainerState",
    "Correction",
    "Batch",
    "Event",
    "ChurnConfig",
    "timeline",
    "members_at",
    "sample_events",
    "Task",
    "TaskConfig",
    "build_task",
    "event_sets",
]
