"""Communication graphs and gossip mixing (NumPy, scipy.sparse.csgraph)."""

from wirelora.network.topology import (
    channel_aware_graph,
    complete_graph,
    connected_components,
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
    "connected_components",
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
