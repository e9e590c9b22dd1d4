"""Bandwidth allocation (cvxpy + NumPy, never torch): the convex allocator, its closed form, baselines."""

from wirelora.allocation.allocator import OBJECTIVES, Allocation, BandwidthAllocator, Budget, allocate
from wirelora.errors import InfeasibleError, SolverError

__all__ = [
    "OBJECTIVES",
    "Allocation",
    "BandwidthAllocator",
    "Budget",
    "InfeasibleError",
    "SolverError",
    "allocate",
]
