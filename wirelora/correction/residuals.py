"""Theorem 2's residual terms (method.md §4) and a synthetic quadratic on which μ, ζ and ρ are set by hand.

After K correction rounds of decentralized gradient descent (n local steps of size η, proximal weight λ,
gossip with consensus rate ρ every H rounds), the event gap of a layer group is bounded by

    R_loc = C_init [ s q_λ^K + (1 − s) ]²,    s = μ / (μ + λ),  q_λ = (1 − η(μ + λ))^n
    R_con = c L [ κ^{2K} D0 + η² n² I Σ_{j<K} κ^{2j} ],      κ = ρ^{1/H} q_0
    R_het = c L η² n² ζ² / (1 − q_λ²)

At λ = 0 and H = 1 these are the paper's terms (R_loc = q^{2K} C_init, q = (1 − ημ)^n). **[W]** The proximal
weight enters where it acts: the local objective L_i + (λ/2)‖B − B_anchor‖² is (μ + λ)-strongly convex, which
damps the heterogeneity floor (q_λ in R_het), but its minimiser sits a fraction λ/(μ + λ) of the way back
toward the anchor, a bias R_loc keeps (the reason proximal damping is not free). A sync period H mixes once
every H rounds, i.e. contracts the disagreement at ρ^{1/H} per round; **[W]** the local steps contract it too
(by q_0 = (1 − ημ)^n per round), so R_con decays at κ = ρ^{1/H} q_0 (the paper's bound takes the worst
case μ = 0). The proximal pull is not credited here: on the synthetic quadratic, crediting it made the rule
prefer cheap damping over mixing where mixing was several times better (checked by simulation,
tests/correction).

All functions broadcast over leading dimensions (groups, candidate schedules, regime grids).

The synthetic quadratic (``SyntheticQuadratic``): f_i(x) = ½ (x − c_i)ᵀ H_i (x − c_i) on M devices, diagonal
H_i with curvatures in [μ, L], ∇f_i(x*) spread with mean_i ‖∇f_i(x*)‖² = ζ², and a mixing matrix whose
consensus rate is exactly ρ at the sparsest density. :func:`simulate_quadratic` runs the very
DGD the trainer runs on it and returns the true error, so the policy's choices can be checked against reality.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wirelora.config import check_nonnegative, check_positive, require

__all__ = [
    "RESIDUALS",
    "local_contraction",
    "r_loc",
    "r_con",
    "r_het",
    "residual_terms",
    "damped_rate",
    "SyntheticQuadratic",
    "QuadraticState",
    "simulate_quadratic",
]

RESIDUALS = ("loc", "con", "het")  # order of the last axis of residual_terms


def local_contraction(local_steps, step_size, mu, prox=0.0):
    """q_λ = (1 − η(μ + λ))^n, the contraction of n local steps (η(μ + λ) is clipped to [0, 1])."""
    rate = np.clip(np.asarray(step_size, dtype=float) * (np.asarray(mu, dtype=float) + prox), 0.0, 1.0)
    return (1.0 - rate) ** np.asarray(local_steps, dtype=float)


def r_loc(rounds, local_steps, step_size, mu, c_init, prox=0.0):
    """R_loc = C_init [ s q_λ^K + (1 − s) ]², s = μ / (μ + λ) (= q^{2K} C_init at λ = 0)."""
    mu = np.asarray(mu, dtype=float)
    prox = np.asarray(prox, dtype=float)
    s = np.where(mu + prox > 0, mu / np.maximum(mu + prox, 1e-300), 1.0)
    q = local_contraction(local_steps, step_size, mu, prox)
    return np.asarray(c_init, dtype=float) * (s * q ** np.asarray(rounds, dtype=float) + (1.0 - s)) ** 2


def _geometric_sum(ratio, terms):
    """Σ_{j<terms} ratio^j, exact at ratio = 1."""
    ratio = np.asarray(ratio, dtype=float)
    terms = np.asarray(terms, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (1.0 - ratio**terms) / (1.0 - ratio)
    return np.where(np.isclose(ratio, 1.0, rtol=0, atol=1e-12), terms, s)


def r_con(rounds, local_steps, step_size, smoothness, rho, disagreement, drift, sync_period=1, c=1.0, mu=0.0):
    """R_con = c L [ κ^{2K} D0 + η² n² I Σ_{j<K} κ^{2j} ], κ = ρ^{1/H} (1 − ημ)^n (the paper's at μ = 0).

    disagreement : D0 = mean_i ‖B_i − B̄‖² right after the event; drift : I, the disagreement one round of
    local steps injects per unit η² n² (≈ the spread of the devices' gradients).
    """
    rho_h = np.asarray(rho, dtype=float) ** (1.0 / np.asarray(sync_period, dtype=float))
    rho_h = rho_h * local_contraction(local_steps, step_size, mu)
    k = np.asarray(rounds, dtype=float)
    eta_n2 = (np.asarray(step_size, dtype=float) * np.asarray(local_steps, dtype=float)) ** 2
    inner = rho_h ** (2 * k) * np.asarray(disagreement, dtype=float)
    inner = inner + eta_n2 * np.asarray(drift, dtype=float) * _geometric_sum(rho_h**2, k)
    return c * np.asarray(smoothness, dtype=float) * inner


def r_het(local_steps, step_size, mu, smoothness, zeta2, prox=0.0, c=1.0):
    """R_het = c L η² n² ζ² / (1 − q_λ²): the heterogeneity floor (0 when n = 0)."""
    n = np.asarray(local_steps, dtype=float)
    q = local_contraction(n, step_size, mu, prox)
    num = c * np.asarray(smoothness, dtype=float) * (np.asarray(step_size, dtype=float) * n) ** 2
    num = num * np.asarray(zeta2, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / (1.0 - q**2)
    return np.where(num > 0, out, 0.0)


def residual_terms(
    *,
    rounds,
    local_steps,
    step_size,
    mu,
    smoothness,
    c_init,
    rho,
    disagreement,
    drift,
    zeta2,
    prox=0.0,
    sync_period=1,
    c=1.0,
):
    """Stack of (R_loc, R_con, R_het), shape [..., 3] in the order of ``RESIDUALS``."""
    loc = r_loc(rounds, local_steps, step_size, mu, c_init, prox)
    con = r_con(rounds, local_steps, step_size, smoothness, rho, disagreement, drift, sync_period, c, mu)
    het = r_het(local_steps, step_size, mu, smoothness, zeta2, prox, c)
    return np.stack(np.broadcast_arrays(loc, con, het), axis=-1)


def damped_rate(base_eigenvalues, gamma):
    """ρ(γ) = max_i |1 − γ (1 − λ_i)| of W(γ) = (1 − γ) I + γ W, from W's non-consensus eigenvalues.

    base_eigenvalues : [..., M − 1] (the eigenvalues of W other than its single 1); gamma broadcasts
    over [...].
    """
    lam = np.asarray(base_eigenvalues, dtype=float)
    g = np.asarray(gamma, dtype=float)[..., None]
    return np.max(np.abs(1.0 - g * (1.0 - lam)), axis=-1)


@dataclasses.dataclass(frozen=True)
class SyntheticQuadratic:
    """f_i(x) = ½ (x − c_i)ᵀ H_i (x − c_i), i < M, x ∈ R^dim, with μ, L, ζ, ρ, the initial gap and
    disagreement set by hand.

    mu, smoothness : the smallest and largest curvature of the average Hessian H̄ = mean_i H_i
    (H̄ = diag(linspace(μ, L, dim))). hessian_spread : H_i = s_i H̄ with s_i evenly spread over
    [1 − spread, 1 + spread] (device heterogeneity in curvature: without it the device average runs plain
    gradient descent whatever the mixing, and R_het would not exist).
    zeta : sqrt(mean_i ‖∇f_i(x*)‖²), the heterogeneity.
    rho : the consensus rate of the sparsest graph, at density gamma_min; density γ interpolates linearly to
    exact averaging (ρ = 0) at γ = 1: ρ(γ) = ρ (1 − γ) / (1 − γ_min) (the mixing W = ρ(γ) I + (1 − ρ(γ))
    11ᵀ/M).
    init_gap : ‖x̄0 − x*‖, the distance of the post-event consensus from the optimum.
    disagreement : mean_i ‖x_i0 − x̄0‖², the post-event disagreement.
    """

    num_devices: int = 6
    dim: int = 8
    mu: float = 0.1
    smoothness: float = 1.0
    hessian_spread: float = 0.5
    zeta: float = 0.0
    rho: float = 0.5
    gamma_min: float = 0.2
    init_gap: float = 1.0
    disagreement: float = 0.0

    def __post_init__(self):
        require(
            isinstance(self.num_devices, int) and self.num_devices >= 2,
            "num_devices",
            self.num_devices,
            "must be an integer >= 2",
        )
        require(isinstance(self.dim, int) and self.dim >= 1, "dim", self.dim, "must be an integer >= 1")
        check_positive("mu", self.mu)
        check_positive("smoothness", self.smoothness)
        require(self.smoothness >= self.mu, "smoothness", self.smoothness, f"must be >= mu={self.mu}")
        require(0.0 <= self.hessian_spread < 1.0, "hessian_spread", self.hessian_spread, "must be in [0, 1)")
        check_nonnegative("zeta", self.zeta)
        require(0.0 <= self.rho < 1.0, "rho", self.rho, "must be in [0, 1)")
        require(0.0 <= self.gamma_min < 1.0, "gamma_min", self.gamma_min, "must be in [0, 1)")
        check_nonnegative("init_gap", self.init_gap)
        check_nonnegative("disagreement", self.disagreement)

    def build(self, *, seed: int) -> QuadraticState:
        """Draw the targets c_i and the start x_i0 (seeded) with exactly the requested ζ, gap and
        disagreement."""
        rng = np.random.default_rng(seed)
        m, d = self.num_devices, self.dim
        scale = np.linspace(1.0 - self.hessian_spread, 1.0 + self.hessian_spread, m)  # [M], mean 1
        curv = scale[:, None] * np.linspace(self.mu, self.smoothness, d)  # [M, dim]
        x_star = rng.standard_normal(d)
        v = _zero_mean_with_power(rng.standard_normal((m, d)), self.zeta**2)  # ∇f_i(x*) = −v_i: [M, dim]
        targets = x_star + v / curv  # c_i = x* + H_i⁻¹ v_i, so Σ_i ∇f_i(x*) = 0
        u = rng.standard_normal(d)
        x_bar0 = x_star + self.init_gap * u / np.linalg.norm(u)
        x0 = x_bar0 + _zero_mean_with_power(rng.standard_normal((m, d)), self.disagreement)  # [M, dim]
        return QuadraticState(
            curvature=curv, targets=targets, x_star=x_star, x0=x0, rho=self.rho, gamma_min=self.gamma_min
        )


def _zero_mean_with_power(z: np.ndarray, power: float) -> np.ndarray:
    """Rows centred, scaled so that mean_i ‖z_i‖² = power."""
    z = z - z.mean(axis=0, keepdims=True)
    p = float(np.mean(np.sum(z**2, axis=1)))
    return z * np.sqrt(power / p) if p > 0 else z * 0.0


@dataclasses.dataclass(frozen=True)
class QuadraticState:
    """The drawn instance. curvature, targets, x0 : [M, dim]; x_star : [dim]."""

    curvature: np.ndarray
    targets: np.ndarray
    x_star: np.ndarray
    x0: np.ndarray
    rho: float
    gamma_min: float

    def loss(self, x: np.ndarray) -> np.ndarray:
        """f(x) − f* = ½ (x − x*)ᵀ H̄ (x − x*) for x : [..., dim]."""
        dx = np.asarray(x) - self.x_star
        return 0.5 * np.sum(self.curvature.mean(axis=0) * dx**2, axis=-1)

    def device_gradients(self, x: np.ndarray) -> np.ndarray:
        """∇f_i(x_i) for x : [M, dim] (or one point [dim], broadcast to all devices) -> [M, dim]."""
        return self.curvature * (np.asarray(x) - self.targets)

    def rate(self, gamma) -> np.ndarray:
        """ρ(γ) = ρ (1 − γ) / (1 − γ_min), clipped to [0, ρ]."""
        g = np.asarray(gamma, dtype=float)
        return np.clip(self.rho * (1.0 - g) / (1.0 - self.gamma_min), 0.0, self.rho)

    def mixing(self, gamma: float) -> np.ndarray:
        """W = ρ(γ) I + (1 − ρ(γ)) 11ᵀ/M : [M, M], whose consensus rate is exactly ρ(γ)."""
        m = self.targets.shape[0]
        r = float(self.rate(gamma))
        return r * np.eye(m) + (1.0 - r) / m

    def observables(self) -> dict[str, float]:
        """What the policy may see at the start (the same quantities the trainer measures on a real model)."""
        x_bar = self.x0.mean(axis=0)
        grads = self.device_gradients(x_bar)  # [M, dim]
        mean_grad = grads.mean(axis=0)
        return {
            "grad_energy": float(np.sum(mean_grad**2)),
            "grad_spread": float(np.mean(np.sum((grads - mean_grad) ** 2, axis=1))),
            "disagreement": float(np.mean(np.sum((self.x0 - x_bar) ** 2, axis=1))),
            "smoothness": float(self.curvature.max()),
            "mu": float(self.curvature.mean(axis=0).min()),
        }


def simulate_quadratic(
    state: QuadraticState,
    *,
    rounds: int,
    local_steps: int,
    step_size: float,
    prox: float = 0.0,
    gamma: float = 1.0,
    sync_period: int = 1,
) -> np.ndarray:
    """Run DGD exactly as the trainer does; return the true error mean_i f(x_i) − f* per round : [rounds + 1].

    Each round: ``local_steps`` steps of x_i ← x_i − η (∇f_i(x_i) + λ (x_i − anchor)), anchor = the post-event
    consensus x̄0; then, on rounds k with k mod H = 0, x ← W(γ) x. The device-averaged error counts the
    disagreement as well as the gap of the average (every device serves its own copy).
    """
    x = state.x0.copy()  # [M, dim]
    anchor = x.mean(axis=0)
    w = state.mixing(gamma)  # [M, M]
    err = np.empty(rounds + 1)
    err[0] = state.loss(x).mean()
    for k in range(rounds):
        for _ in range(local_steps):
            x = x - step_size * (state.device_gradients(x) + prox * (x - anchor))
        if k % sync_period == 0:
            x = w @ x
        err[k + 1] = state.loss(x).mean()
    return err
