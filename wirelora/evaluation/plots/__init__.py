"""All of wirelora's drawing: one thin function per figure, data in, a matplotlib ``Figure`` out.

Nothing here computes a result: the reproduce targets (:mod:`wirelora.experiments.reproduce`) run the
experiments, save the data (JSON/CSV) and call these functions, adding nothing, so ``plots.fig5(...)`` draws
what ``wirelora reproduce fig5`` draws and every figure redraws from its saved data alone. Every function
takes ``ax=None`` (or ``axes=None`` for two-panel figures): pass axes to draw into an existing figure, else a
new figure is made (``matplotlib.figure.Figure``, not pyplot: no leaks in loops, no display needed).

Curves are passed as ``{name: values}`` mappings; names that wirelora knows (``proposed``, ``naive``,
``full``, ``ls_prox``, …) get the paper's labels and fixed colours (:mod:`wirelora.evaluation.names`); any
other name is drawn as given. One module per family of figures:

    correction.py  fig3 … fig8, table3   methods and policy arms after an event
    allocation.py  alloc, pareto         the allocator (and ``allocate --plot``'s bars)
    adapter.py     leakage, join         the orthogonal adapter under leaves and joins
    policy.py      regimes               the dominant-residual rule's action by regime
    run.py         summary               one run directory's losses (``wirelora run``)
"""

from wirelora.evaluation.names import label
from wirelora.evaluation.plots.adapter import join, leakage
from wirelora.evaluation.plots.allocation import alloc, alloc_figure, pareto, pareto_figure, plot_allocation
from wirelora.evaluation.plots.correction import fig3, fig4, fig5, fig6, fig7, fig8, table3
from wirelora.evaluation.plots.policy import regimes
from wirelora.evaluation.plots.run import summary

__all__ = [
    "fig3",
    "fig4",
    "fig5",
    "fig6",
    "fig7",
    "fig8",
    "table3",
    "alloc",
    "pareto",
    "alloc_figure",
    "pareto_figure",
    "plot_allocation",
    "leakage",
    "regimes",
    "join",
    "summary",
    "label",
]
