"""Import a Killercoda scenario (index.json, step Markdown, verify/background/foreground scripts, assets) as a
driftlab course. `import_scenario` is the whole import; the modules below it do one part each."""

from .convert import Plan, plan_course
from .importer import DEFAULT_LAB, ImportResult, import_scenario, lab_for
from .scenario import KillercodaError, Scenario, read_scenario

__all__ = [
    "DEFAULT_LAB",
    "ImportResult",
    "KillercodaError",
    "Plan",
    "Scenario",
    "import_scenario",
    "lab_for",
    "plan_course",
    "read_scenario",
]
