"""Cost planner: what N frames cost and how long they take, per model (`python -m bench.plan`).

bench.plan.costs (the arithmetic), bench.plan.inputs (measured runs or the catalog), bench.plan.seeds
(the seeds' figures recomputed), bench.plan.figure (a plotly chart).
"""

from bench.plan.costs import BATCH_DISCOUNTS, ModelInputs, Plan, plan
from bench.plan.figure import cost_figure

__all__ = ["BATCH_DISCOUNTS", "ModelInputs", "Plan", "cost_figure", "plan"]
