"""Figures for the theory commands: Theorem 4.1's misfit curves and Proposition 2's smoothing plot.

Matplotlib is imported inside each function and used through its object API on the Agg canvas
(no pyplot state, no display), so importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from w2sg.theory.ce import SmoothingTable
    from w2sg.theory.ridge import RidgeSweep

__all__ = ["plot_ridge_sweep", "plot_smoothing"]


def _figure(width: float, height: float, ncols: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def plot_ridge_sweep(result: RidgeSweep, path: Path | str, *, dpi: int = 120) -> Path:
    r"""Misfit versus student width, simulated (markers, ±1 sd over seeds) and :math:`C g(\gamma,\lambda)` (lines).

    One colour per ridge parameter; the x axis is :math:`\gamma = m/d` on a log scale.

    Args:
        result: a :class:`~w2sg.theory.ridge.RidgeSweep`.
        path: output PNG path (parent folders are created).
        dpi: resolution, int > 0.

    Returns:
        The written path.
    """
    from matplotlib import colormaps

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax,) = _figure(6.4, 4.4)
    cmap = colormaps["viridis"]
    mean, sd = result.misfit_mean, result.misfit_sd
    order = np.argsort(result.gammas)
    gam = result.gammas[order]
    dense = np.geomspace(gam[0], gam[-1], 200)
    from w2sg.theory.ridge import g

    for j, lam in enumerate(result.lams):
        colour = cmap(j / max(1, result.lams.size - 1) * 0.85)
        ax.errorbar(
            gam, mean[order, j], yerr=sd[order, j], fmt="o", ms=3.5, capsize=2, color=colour,
            label=f"simulated, λ={lam:g}",
        )
        ax.plot(dense, result.norm * g(dense, lam, convention=result.convention), "-", color=colour, lw=1.2,
                label=f"C·g(γ, λ={lam:g})")
    from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    # Powers of two inside the plotted range as labelled ticks; unlabelled minor ticks.
    ticks = [2.0**k for k in range(-12, 13) if gam[0] * 0.999 <= 2.0**k <= gam[-1] * 1.001] or list(gam[[0, -1]])
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("student width γ = m/d")
    ax.set_ylabel("expected misfit E(F_w − F_s)²")
    n_text = "n → ∞" if result.n is None else f"n = {result.n}"
    ax.set_title(
        f"Theorem 4.1 / Example 1: misfit vs student width\n"
        f"d = {result.d}, {n_text}, convention {result.convention}, {result.seeds.size} seeds",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(path, dpi=dpi)
    return path


def plot_smoothing(table: SmoothingTable, path: Path | str, *, dpi: int = 120) -> Path:
    r"""CE vs RCE population minimisers under label smoothing (Proposition 2).

    Left: the minimiser's mass on the teacher's unsmoothed argmax (its expected accuracy) against
    :math:`\alpha`; right: its total-variation shift from the unsmoothed optimum. CE solid green,
    RCE dashed purple, one marker per teacher label.

    Args:
        table: a :class:`~w2sg.theory.ce.SmoothingTable`.
        path: output PNG path (parent folders are created).
        dpi: resolution, int > 0.

    Returns:
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = _figure(9.0, 4.4, ncols=2)
    order = np.argsort(table.alphas)
    alphas = table.alphas[order]
    markers = "osD^v<>p*h"
    for i in range(table.labels.shape[0]):
        top = table.labels[i].max()
        mk = markers[i % len(markers)]
        left.plot(alphas, table.ce_accuracy[order, i], "-", marker=mk, color="tab:green", ms=4,
                  label=f"CE, teacher top {top:.2f}")
        left.plot(alphas, table.rce_accuracy[order, i], "--", marker=mk, color="tab:purple", ms=4,
                  label=f"RCE, teacher top {top:.2f}")
        right.plot(alphas, table.ce_shift[order, i], "-", marker=mk, color="tab:green", ms=4)
        right.plot(alphas, table.rce_shift[order, i], "--", marker=mk, color="tab:purple", ms=4)
    left.set_xlabel("smoothing α (1 = no smoothing)")
    left.set_ylabel("minimiser's mass on teacher argmax")
    right.set_xlabel("smoothing α (1 = no smoothing)")
    right.set_ylabel("TV shift from the α = 1 minimiser")
    for ax in (left, right):
        ax.grid(True, alpha=0.25)
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=7)
    fig.suptitle("Proposition 2: label smoothing moves the CE minimiser, not the RCE minimiser", fontsize=10)
    fig.savefig(path, dpi=dpi)
    return path
