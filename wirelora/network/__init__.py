"""Communication graphs and gossip mixing (NumPy only)."""

from wirelora.network.topology import (
    channel_aware_graph,
    complete_graph,
    consensus_rate,
    damped_mixing,
    edge_list,
    from_edges,
    is_connected,
    metropolis_weights,
    num_edges_for_density,
    random_connected_graph,
    ring_graph,
)

__all__ = [
    "channel_aware_graph",
    "complete_graph",
    "consensus_rate",
    "damped_mixing",
    "edge_list",
    "from_edges",
    "is_connected",
    "metropolis_weights",
    "num_edges_for_density",
    "random_connected_graph",
    "ring_graph",
]
