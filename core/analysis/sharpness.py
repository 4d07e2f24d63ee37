"""Sharpness: the top eigenvalue of the Hessian of the mean logistic loss f(θ) = (1/n) Σ softplus(−m_i).

Two ways to get it:
* :func:`top_hessian_eigenvalue` — one run, autograd Hessian-vector products and ARPACK (scipy's
  ``eigsh``), or a dense ``eigh`` for tiny p. Slow; kept as the test oracle.
* :class:`SharpnessMeter` — every run of a sweep at once: Hessian-vector products for the whole
  (B, p) batch in one call (closed form for linear models and the pooled CNN, ``torch.func``
  forward-over-reverse for the others), a Lanczos iteration batched over the runs, warm-started
  from each run's previous top Ritz vector, in float64.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:                 # core.models.builtin imports this module's closed forms
    from core.models.builtin import Model

EXACT_HESSIAN_LIMIT = 16


def top_hessian_eigenvalue(model: Model, shared, theta_row: torch.Tensor, seed: int = 0,
                           exact: bool | None = None) -> float:
    """Top eigenvalue of the Hessian of f(θ) = (1/n) Σ log(1 + exp(−m_i)) at one θ: Lanczos
    (scipy eigsh) on Hessian-vector products, or a dense eigh for small parameter counts."""
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

    p = theta_row.numel()
    exact = p <= EXACT_HESSIAN_LIMIT if exact is None else exact
    with torch.enable_grad():
        theta = theta_row.detach().clone().requires_grad_(True)
        loss = F.softplus(-model.differentiable_margins(theta[None], shared)[0]).mean()
        (grad,) = torch.autograd.grad(loss, theta, create_graph=True)
        if not grad.requires_grad:          # the loss is linear in θ here: H = 0
            return 0.0

        def hvp(vector: torch.Tensor) -> torch.Tensor:
            (product,) = torch.autograd.grad(grad, theta, vector, retain_graph=True,
                                             allow_unused=True)
            return torch.zeros_like(theta) if product is None else product

        if exact:
            eye = torch.eye(p, dtype=theta.dtype, device=theta.device)
            hessian = torch.stack([hvp(column) for column in eye])
            hessian = (hessian + hessian.T) / 2
            return float(torch.linalg.eigvalsh(hessian)[-1])

        def matvec(vector: np.ndarray) -> np.ndarray:
            tensor = torch.as_tensor(np.ravel(vector), dtype=theta.dtype, device=theta.device)
            return hvp(tensor).detach().cpu().numpy().astype(np.float64)

        operator = LinearOperator((p, p), matvec=matvec, dtype=np.float64)
        start = np.random.default_rng(seed).standard_normal(p)
        try:
            values = eigsh(operator, k=1, which="LA", v0=start, tol=1e-5,
                           maxiter=max(300, 5 * p), return_eigenvectors=False)
            return float(values[0])
        except ArpackNoConvergence as error:
            if len(error.eigenvalues):
                return float(error.eigenvalues[-1])
        except ArpackError:
            # ARPACK stops when H v vanishes (a flat loss: margins so large that σ(m)σ(−m)
            # underflows); then the Hessian is 0 to working precision along the Krylov space.
            product = matvec(start)
            if not np.any(product):
                return 0.0
        if p <= 1024:
            return top_hessian_eigenvalue(model, shared, theta_row, seed, exact=True)
        return float("nan")




# ---------------------------------------------------------------------- batched Hessian-vector products
HVP = Callable[[torch.Tensor], torch.Tensor]
LANCZOS_BASIS_LIMIT = 2**24     # values in the Krylov bases of one batched Lanczos (then chunks)


def _softplus_weights(margins: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ℓ'(m) = −σ(−m) and ℓ''(m) = σ(m)σ(−m) for ℓ(m) = softplus(−m)."""
    negative = torch.sigmoid(-margins)
    return -negative, torch.sigmoid(margins) * negative


def hvp_at(model: Model, shared, theta: torch.Tensor, activations: torch.Tensor | None = None) -> HVP:
    """V ↦ (H_r v_r)_r for the rows θ_r of ``theta`` (R, p): Hessian-vector products of every
    row's mean loss at once (the rows are independent, so the Hessian of their sum is block
    diagonal). Everything that depends on θ alone is computed here, once. ``activations``: the
    pooled CNN's s(h) at these rows (n·HW, R·c) when the caller has them from its own forward
    pass (the engine does), so they are not computed again."""
    closed_form = model.hessian_vector_products(shared, theta, activations)
    return closed_form if closed_form is not None else _functional_hvp(model, shared, theta)


def linear_hvp(shared, theta: torch.Tensor) -> HVP:
    """H = (1/n) Σ_i σ(m_i)σ(−m_i) x_i x_iᵀ with x_i = y_i b_i (the rows of ``signed``)."""
    signed = shared.signed
    _, curvature = _softplus_weights(theta @ signed.T)
    curvature = curvature / signed.shape[0]

    def product(vectors: torch.Tensor) -> torch.Tensor:
        return ((vectors @ signed.T) * curvature) @ signed

    return product


def _functional_hvp(model, shared, theta: torch.Tensor) -> HVP:
    """Forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``) through the model's
    batched margins: one call gives every row's Hessian-vector product."""
    from torch.func import grad, jvp

    def total_loss(rows: torch.Tensor) -> torch.Tensor:
        return F.softplus(-model.differentiable_margins(rows, shared)).mean(dim=1).sum()

    gradient = grad(total_loss)

    def product(vectors: torch.Tensor) -> torch.Tensor:
        return jvp(gradient, (theta,), (vectors,))[1]

    return product


def pooled_cnn_hvp(model, shared, theta: torch.Tensor, activations: torch.Tensor | None = None) -> HVP:
    """One convolution, activation s and a global average pool (models.CNN's closed-form case).

    With x̃ = [patch, 1] and κ_rc = [kernel, bias] of row r's channel c, h = κ_rc·x̃ and
    g_r(b) = Σ_c u_rc P_rc + u_r0, P_rc = mean_pixels s(h). Everything the products need from
    the (n·HW, B·c) activations is gathered once here: P, A_rc = mean_pixels s'(h) x̃ (n, q, B·c)
    and, when s'' ≠ 0, C_rc = Σ_i ℓ'_i u_rc mean_pixels s''(h) x̃x̃ᵀ (B·c, q, q). A product is then
    a few operations on (n, q, B·c) arrays — it never touches the activations:
      dg = Σ_c du_c P_c + u_c A_c·dκ_c + du_0,
      Hv = Σ_i [ℓ''_i dg_i ∇g_i + ℓ'_i ∇²g_i v] with ∇_κ g = u_c A_c, ∇_u g = P, ∇_u0 g = 1,
      (∇²g v)_κ = du_c A_c + u_c M_c dκ_c, (∇²g v)_u = A_c·dκ_c  (M_c = mean s''(h) x̃x̃ᵀ)."""
    batch, c = theta.shape[0], model.spec.channels
    patches, labels = shared.patches, shared.labels
    n, pixels = labels.shape[0], model.image_shape[1] * model.image_shape[2]
    extended = torch.cat([patches, torch.ones_like(patches[:, :1])], dim=1)      # x̃ (n·HW, q)
    q = extended.shape[1]
    params = model._split(theta)
    kappa = torch.cat([params["conv1.weight"].reshape(batch * c, q - 1),
                       params["conv1.bias"].reshape(batch * c, 1)], dim=1)      # (B·c, q)
    readout = params["readout.weight"]                                          # (B, c)
    name, leak = model.spec.activation, model.spec.leak
    value = activations
    if value is None:
        value = extended @ kappa.T                                              # h (n·HW, B·c)
        if name == "relu":
            value.clamp_min_(0)
        elif name == "leaky_relu":
            value = F.leaky_relu(value, leak, inplace=True)
        elif name == "tanh":
            value.tanh_()
    # s' and s'' read from a = s(h) (a > 0 exactly where h > 0 for the ReLUs; s'(0) = 0 as in
    # autograd)
    curve = None
    if name == "identity":
        slope = torch.ones_like(value)
    elif name == "relu":
        slope = torch.gt(value, 0, out=torch.empty_like(value))
    elif name == "leaky_relu":
        slope = torch.where(value > 0, torch.ones_like(value), torch.full_like(value, leak))
    else:
        slope = 1 - value * value
        curve = -2 * value * slope
    pooled = value.reshape(n, pixels, batch * c).mean(dim=1)                    # P (n, B·c)
    slope_mean = torch.bmm(extended.view(n, pixels, q).transpose(1, 2),
                           slope.view(n, pixels, batch * c)).div_(pixels)       # A, as (n, q, B·c)
    pooled3 = pooled.view(n, batch, c)
    outputs = (pooled3 * readout).sum(dim=2).T + params["readout.bias"]         # (B, n)
    first, second = _softplus_weights(outputs * labels)
    first, second = first * labels / n, second / n                              # (B, n); ℓ''y² = ℓ''
    first_t = first.T                                                           # (n, B)
    curvature = None
    if curve is not None:
        weight = (curve.view(n, pixels, batch * c)
                  * (first_t[:, :, None] * readout[None]).reshape(n, 1, batch * c) / pixels)
        outer = (extended[:, :, None] * extended[:, None, :]).reshape(n * pixels, q * q)
        curvature = (outer.T @ weight.reshape(n * pixels, batch * c)).T.reshape(batch * c, q, q)
    kernel_size = c * (q - 1)

    # The products below are broadcast multiplies and sums, not einsums: an einsum contracting
    # one index per channel becomes a bmm over B·c tiny matrices, which the CPU runs one matrix
    # at a time, copying each operand (2-3x the product's time; more with 2 threads).
    first_t3 = first_t[:, :, None]                                              # (n, B, 1)

    def product(vectors: torch.Tensor) -> torch.Tensor:
        d_kappa = torch.cat([vectors[:, :kernel_size].reshape(batch * c, q - 1),
                             vectors[:, kernel_size: kernel_size + c].reshape(batch * c, 1)], dim=1)
        du = vectors[:, kernel_size + c: kernel_size + 2 * c]                      # (B, c)
        moved = (slope_mean * d_kappa.T.contiguous()).sum(dim=1).view(n, batch, c)  # A·dκ
        dg = (pooled3 * du + moved * readout).sum(dim=2).T + vectors[:, -1:]     # (B, n)
        coef = second * dg
        coef_t3 = coef.T[:, :, None]                                             # (n, B, 1)
        weights = coef_t3 * readout + first_t3 * du                              # (n, B, c)
        to_kappa = (slope_mean * weights.reshape(n, 1, batch * c)).sum(dim=0).T  # (B·c, q)
        if curvature is not None:
            to_kappa = to_kappa + (curvature * d_kappa[:, None, :]).sum(dim=2)
        to_readout = (coef_t3 * pooled3 + first_t3 * moved).sum(dim=0)         # (B, c)
        return torch.cat([to_kappa[:, :-1].reshape(batch, kernel_size), to_kappa[:, -1].reshape(batch, c),
                          to_readout, coef.sum(dim=1, keepdim=True)], dim=1)

    return product


# ---------------------------------------------------------------------- batched Lanczos
def batched_top_eigenvalues(product: HVP, start: torch.Tensor, max_steps: int = 40,
                            tol: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Top (largest algebraic) eigenvalue of each row's symmetric operator by Lanczos with full
    reorthogonalisation, every row at once. ``start`` (R, p): the starting vectors (a previous
    top eigenvector makes a good one). A row stops when its Ritz residual |β_k y_k| is below
    ``tol`` times its top Ritz value; the batch stops when every row has. Returns the values
    (R,) and the top Ritz vectors (R, p)."""
    rows, p = start.shape
    steps = max(1, min(max_steps, p))
    basis = torch.zeros(rows, steps + 1, p, dtype=start.dtype, device=start.device)
    norm = start.norm(dim=1, keepdim=True)
    basis[:, 0] = start / torch.where(norm > 0, norm, torch.ones_like(norm))
    alphas = torch.zeros(rows, steps, dtype=start.dtype, device=start.device)
    betas = torch.zeros(rows, steps, dtype=start.dtype, device=start.device)
    alive = torch.ones(rows, dtype=torch.bool, device=start.device)     # no breakdown yet
    values = torch.full((rows,), float("nan"), dtype=start.dtype, device=start.device)
    vectors = basis[:, 0].clone()
    for k in range(steps):
        w = product(basis[:, k])
        alphas[:, k] = (w * basis[:, k]).sum(dim=1)
        # full reorthogonalisation against the basis so far (twice is enough)
        # (bmm, not einsum: the einsum's permutes and copies doubled this on small bases)
        done = basis[:, : k + 1]
        for _ in range(2):
            w = w - torch.bmm(torch.bmm(done, w[:, :, None]).transpose(1, 2), done)[:, 0]
        beta = w.norm(dim=1)
        betas[:, k] = beta
        size = k + 1
        tridiagonal = torch.diag_embed(alphas[:, :size])
        if size > 1:
            off = betas[:, : size - 1]
            tridiagonal = tridiagonal + torch.diag_embed(off, 1) + torch.diag_embed(off, -1)
        ritz, ritz_vectors = torch.linalg.eigh(tridiagonal)
        top, top_vector = ritz[:, -1], ritz_vectors[:, :, -1]
        residual = (beta * top_vector[:, -1]).abs()
        scale = torch.clamp(top.abs(), min=torch.finfo(start.dtype).tiny)
        converged = (residual <= tol * scale) | ~alive
        values = torch.where(alive | torch.isnan(values), top, values)
        vectors = torch.where(alive[:, None] | (k == 0), torch.bmm(top_vector[:, None, :], done)[:, 0],
                              vectors)
        breakdown = beta <= 1e-12 * torch.clamp(alphas[:, :size].abs().amax(dim=1), min=1e-300)
        alive = alive & ~breakdown
        if bool(converged.all()) or k + 1 == steps:
            break
        basis[:, k + 1] = torch.where(alive[:, None], w / torch.where(beta > 0, beta, 1)[:, None], 0)
    return values, vectors


class SharpnessMeter:
    """The sharpness of a sweep's runs, all at once, warm-started from each run's previous top
    eigenvector, in the sweep's dtype: with full reorthogonalisation and a residual test the
    Lanczos values from float32 products agree with float64 ones to ~1e-6 relative (the bench
    CNN sweep: 3.5e-7), which the ARPACK path could not promise (it needed float64)."""

    def __init__(self, model: Model, shared, max_steps: int = 40, tol: float = 1e-3):
        self.model, self.shared = model, shared
        self.max_steps, self.tol = max_steps, tol
        self.previous: torch.Tensor | None = None

    def measure(self, theta: torch.Tensor, running: torch.Tensor, t: int, saved=None) -> np.ndarray:
        """(B,) top Hessian eigenvalues at the rows of θ where ``running`` (NaN elsewhere).
        ``saved``: what the model's ``margins`` returned for these θ (rows beyond B are the
        engine's companions), reused where a product can."""
        sharp = np.full(theta.shape[0], np.nan)
        rows = torch.nonzero(running).flatten()
        if rows.numel() == 0:
            return sharp
        at = theta[rows].to(self.shared.features.dtype)
        start = self._start(theta.shape, rows, at, t)
        values, vectors = top_eigenvalues(self.model, self.shared, at, start, self.max_steps, self.tol,
                                          self._activations(saved, rows, theta.shape[0]))
        if self.previous is None:
            self.previous = torch.zeros(theta.shape, dtype=at.dtype, device=theta.device)
        self.previous[rows] = vectors
        sharp[rows.cpu().numpy()] = values.cpu().numpy()
        return sharp

    def _activations(self, saved, rows: torch.Tensor, batch: int) -> torch.Tensor | None:
        """The pooled CNN's activations s(h) of the measured rows, from the sweep's forward."""
        if saved is None or not self.model.hvp_reuses_activations():
            return None
        hidden, channels = saved[0], self.model.spec.channels
        if hidden.dtype != self.shared.features.dtype:
            return None
        if rows.numel() == batch and hidden.shape[1] == batch * channels:
            return hidden
        columns = (rows[:, None] * channels + torch.arange(channels, device=rows.device)).flatten()
        return hidden.index_select(1, columns)

    def _start(self, shape, rows, at, t) -> torch.Tensor:
        generator = torch.Generator(device="cpu").manual_seed(t)
        noise = torch.randn(rows.numel(), shape[1], generator=generator,
                            dtype=torch.float64).to(at.device, at.dtype)
        if self.previous is None:
            return noise
        previous = self.previous[rows]
        known = previous.norm(dim=1, keepdim=True) > 0
        # a little noise keeps the Krylov space from missing a new top direction
        return torch.where(known, previous + 1e-3 * noise / noise.norm(dim=1, keepdim=True), noise)


def top_eigenvalues(model: Model, shared, theta: torch.Tensor, start: torch.Tensor | None = None,
                    max_steps: int = 40, tol: float = 1e-5,
                    activations: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top Hessian eigenvalue (and eigenvector) of every row of ``theta`` (R, p), batched.
    Small p (≤ EXACT_HESSIAN_LIMIT): the dense Hessian from p products, then eigh.
    ``activations``: see :func:`hvp_at`."""
    product = hvp_at(model, shared, theta, activations)
    rows, p = theta.shape
    if p <= EXACT_HESSIAN_LIMIT:
        eye = torch.eye(p, dtype=theta.dtype, device=theta.device)
        hessian = torch.stack([product(eye[j].expand(rows, p)) for j in range(p)], dim=2)
        hessian = (hessian + hessian.transpose(1, 2)) / 2
        values, vectors = torch.linalg.eigh(hessian)
        return values[:, -1], vectors[:, :, -1]
    if start is None:
        start = torch.randn(rows, p, generator=torch.Generator().manual_seed(0),
                            dtype=torch.float64).to(theta.device, theta.dtype)
    chunk = max(1, LANCZOS_BASIS_LIMIT // ((min(max_steps, p) + 1) * p))
    if rows <= chunk:
        return batched_top_eigenvalues(product, start, max_steps, tol)
    # the Krylov bases of all rows at once would be too large: a few rows at a time
    parts = [batched_top_eigenvalues(hvp_at(model, shared, theta[i: i + chunk]), start[i: i + chunk],
                                     max_steps, tol) for i in range(0, rows, chunk)]
    return torch.cat([v for v, _ in parts]), torch.cat([u for _, u in parts])
