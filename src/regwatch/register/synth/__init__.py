"""A generated register and its daily activity, seeded and reproducible.

``generate_register`` fills an empty mirror with persons whose names, addresses
and family life follow Lithuanian data (``data/``); ``simulate`` then records
day after day of register events against it, and ``plan_day`` gives one day's
events without recording them.
"""

from regwatch.register.synth.activity import (
    SimulationRefused,
    SimulationSummary,
    plan_day,
    simulate,
)
from regwatch.register.synth.population import (
    GenerationRefused,
    GenerationSummary,
    generate_register,
)

__all__ = [
    "GenerationRefused",
    "GenerationSummary",
    "SimulationRefused",
    "SimulationSummary",
    "generate_register",
    "plan_day",
    "simulate",
]
