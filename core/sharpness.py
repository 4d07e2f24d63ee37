"""Sharpness: the top eigenvalue of the Hessian of the mean logistic loss."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .models import Model

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


class SharpnessMeter:
    """The sharpness of a batch of runs at one iteration (float64: Hessian-vector products in
    float32 are too noisy for Lanczos)."""

    def __init__(self, model: Model, shared):
        self.model = model
        self.shared = shared if shared.features.dtype == torch.float64 else model.prepare(
            shared.features.double(), shared.labels.double())

    def measure(self, theta: torch.Tensor, running: torch.Tensor, t: int) -> np.ndarray:
        """(B,) top Hessian eigenvalues of the running rows of θ (NaN for the others)."""
        sharp = np.full(theta.shape[0], np.nan)
        for row in np.flatnonzero(running.cpu().numpy()):
            sharp[row] = top_hessian_eigenvalue(self.model, self.shared, theta[row].double(), seed=t)
        return sharp
