"""Studies: searches over specs with Optuna, each trial an ordinary run.

- :mod:`~mnist_core.studies.parameters`: what may vary (the searchable-settings registry);
- :mod:`~mnist_core.studies.space`: ``PATH=VALUES`` dimensions, a trial's spec;
- :mod:`~mnist_core.studies.plan`: a study's settings, checked as a whole;
- :mod:`~mnist_core.studies.presets`: the one-click studies of the tutorials' steps;
- :mod:`~mnist_core.studies.store`: the one owner of a study folder; :class:`StudyRecord`;
- :mod:`~mnist_core.studies.driver`: the background job that runs a study;
- :mod:`~mnist_core.studies.control`: start, stop, resume, wait.

Pages and the CLI use the names below and never name a study's files.
"""

from mnist_core.studies.control import follow, resume, start, stop, summary, wait
from mnist_core.studies.parameters import StudyError, resolve, searchable
from mnist_core.studies.plan import (
    MAX_REPEATS,
    MAX_TRIALS,
    OBJECTIVES,
    PRUNERS,
    SEARCHES,
    StudyPlan,
    plan_study,
)
from mnist_core.studies.presets import STUDY_PRESETS, PresetStudy, preset_study
from mnist_core.studies.results import RunResult, mean_sd
from mnist_core.studies.space import Dimension, SearchSpace, parse_dimension
from mnist_core.studies.store import (
    TRIAL_STATES,
    StudyRecord,
    TrialRow,
    create_study,
    list_studies,
    open_study,
    studies_dir,
)

__all__ = [
    "MAX_REPEATS", "MAX_TRIALS", "OBJECTIVES", "PRUNERS", "SEARCHES", "STUDY_PRESETS",
    "TRIAL_STATES", "Dimension", "PresetStudy", "RunResult", "SearchSpace", "StudyError",
    "StudyPlan", "StudyRecord", "TrialRow", "create_study", "follow", "list_studies", "mean_sd",
    "open_study", "parse_dimension", "plan_study", "preset_study", "resolve", "resume",
    "searchable", "start", "stop", "studies_dir", "summary", "wait",
]  # fmt: skip
