"""Bandwidth allocation (cvxpy + NumPy, never torch): the problem, its closed form (the default solver), the
convex allocator, baselines."""

from wirelora.allocation.allocator import allocate
from wirelora.allocation.cvx import BandwidthAllocator
from wirelora.allocation.problem import OBJECTIVES, Allocation, AllocationProblem, Budget
from wirelora.errors import InfeasibleError, SolverError

__all__ = [
    "OBJECTIVES",
    "Allocation",
    "AllocationProblem",
    "BandwidthAllocator",
    "Budget",
    "InfeasibleError",
    "SolverError",
    "allocate",
]
