"""Models batched over configurations: parameters are a (B, p) tensor, data is shared.

Each model gives the outputs g(b_i; theta_r) for every row r and point i, and the
*pullback* sum_i c_ri grad_theta g(b_i; theta_r) for a coefficient matrix c (B x n).
GD on the logistic loss is then ``theta += step * pullback(sigmoid(-m) * y / n)``, and every
perceptron variant only changes the coefficients. Gradients are written in closed form
(two matmuls per step) and checked against autograd in the tests.
"""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import numpy as np
import torch

from .spec import RunSpec


def activation(name: str, z: torch.Tensor, leak: float) -> tuple[torch.Tensor, torch.Tensor]:
    """s(z) and s'(z)."""
    if name == "identity":
        return z, torch.ones_like(z)
    if name == "relu":
        positive = z > 0
        return torch.where(positive, z, torch.zeros_like(z)), positive.to(z.dtype)
    if name == "leaky_relu":
        slope = torch.where(z > 0, torch.ones_like(z), torch.full_like(z, leak))
        return z * slope, slope
    if name == "tanh":
        value = torch.tanh(z)
        return value, 1 - value * value
    raise ValueError(f"unknown activation {name!r}")


POSITIVELY_HOMOGENEOUS = ("identity", "relu", "leaky_relu")


@dataclass(frozen=True)
class SharedData:
    """The dataset on the device, with what each model precomputes once (never per run)."""

    features: torch.Tensor          # (n, d)
    labels: torch.Tensor            # (n,)
    stacked: torch.Tensor | None    # two_layer_conv: [b; Pb] (2n, d); linear+bias: [b, 1] (n, d+1)
    signed: torch.Tensor | None = None  # linear: rows y_i·[b_i(, 1)], so margins are one matmul


class Model(abc.ABC):
    name = "model"

    def __init__(self, spec: RunSpec):
        self.spec = spec

    @abc.abstractmethod
    def num_params(self, d: int) -> int:
        """p, the number of parameters for inputs of dimension d."""

    def prepare(self, features: torch.Tensor, labels: torch.Tensor) -> SharedData:
        return SharedData(features, labels, None)

    def init(self, d: int, seed: int) -> np.ndarray:
        """theta_0 = s * N(0, I) / sqrt(p): norm about s (minimal_example.md's convention)."""
        p = self.num_params(d)
        rng = np.random.default_rng(seed)
        return self.spec.init_scale * rng.standard_normal(p) / math.sqrt(p)

    def homogeneity(self) -> int | None:
        """k with g(c theta) = c^k g(theta) for c > 0, or None."""
        return None

    @abc.abstractmethod
    def outputs(self, theta: torch.Tensor, data: SharedData) -> tuple[torch.Tensor, object]:
        """g (B, n) and whatever ``pullback`` needs from the forward pass."""

    def pullback(self, theta: torch.Tensor, data: SharedData, saved: object,
                 coef: torch.Tensor) -> torch.Tensor:
        """sum_i coef[r, i] * grad_theta g(b_i; theta_r), shape (B, p)."""

    def margins(self, theta: torch.Tensor, data: SharedData) -> tuple[torch.Tensor, object]:
        """m_ri = y_i g(b_i; θ_r), shape (B, n)."""
        outputs, saved = self.outputs(theta, data)
        return outputs * data.labels, saved

    def margin_pullback(self, theta: torch.Tensor, data: SharedData, saved: object,
                        coef: torch.Tensor) -> torch.Tensor:
        """sum_i coef[r, i] * grad_theta m_i(θ_r) = pullback of coef·y."""
        return self.pullback(theta, data, saved, coef * data.labels)

    def describe(self) -> str:
        return self.name


class Linear(Model):
    """g(b) = v^T b (+ bias). Starts at 0, so every run of a sweep shares theta_0."""

    name = "linear"

    def num_params(self, d: int) -> int:
        return d + (1 if self.spec.bias else 0)

    def prepare(self, features, labels):
        design = features
        if self.spec.bias:
            ones = torch.ones(features.shape[0], 1, dtype=features.dtype, device=features.device)
            design = torch.cat([features, ones], dim=1)
        return SharedData(features, labels, design if self.spec.bias else None,
                          labels[:, None] * design)

    def init(self, d, seed):
        return np.zeros(self.num_params(d))

    def homogeneity(self):
        return 1

    def _design(self, data: SharedData) -> torch.Tensor:
        return data.stacked if data.stacked is not None else data.features

    def outputs(self, theta, data):
        return theta @ self._design(data).T, None

    def pullback(self, theta, data, saved, coef):
        return coef @ self._design(data)

    def margins(self, theta, data):
        return theta @ data.signed.T, None

    def margin_pullback(self, theta, data, saved, coef):
        return coef @ data.signed

    def describe(self):
        return "g(b) = vᵀb" + (" + c" if self.spec.bias else "")


class TwoLayerConv(Model):
    """science.md §2: g(b) = u1 s(wᵀb) + u2 s(wᵀPb), theta = (u1, u2, w), P the cyclic shift."""

    name = "two_layer_conv"

    def num_params(self, d):
        return d + 2

    def prepare(self, features, labels):
        shifted = torch.roll(features, shifts=1, dims=1)  # (Pb)_i = b_{i-1}
        return SharedData(features, labels, torch.cat([features, shifted], dim=0))

    def homogeneity(self):
        return 2 if self.spec.activation in POSITIVELY_HOMOGENEOUS else None

    def outputs(self, theta, data):
        n = data.features.shape[0]
        pre = theta[:, 2:] @ data.stacked.T                 # (B, 2n): [wᵀb_i, wᵀPb_i]
        value, slope = activation(self.spec.activation, pre, self.spec.leak)
        g = theta[:, :1] * value[:, :n] + theta[:, 1:2] * value[:, n:]
        return g, (value, slope)

    def pullback(self, theta, data, saved, coef):
        value, slope = saved
        n = coef.shape[1]
        grad_u1 = (coef * value[:, :n]).sum(1, keepdim=True)
        grad_u2 = (coef * value[:, n:]).sum(1, keepdim=True)
        inner = torch.cat([coef * theta[:, :1], coef * theta[:, 1:2]], dim=1) * slope
        grad_w = inner @ data.stacked
        return torch.cat([grad_u1, grad_u2, grad_w], dim=1)

    def describe(self):
        s = {"identity": "", "relu": "ReLU", "leaky_relu": f"LeakyReLU({self.spec.leak:g})",
             "tanh": "tanh"}[self.spec.activation]
        return f"g(b) = u1·{s}(wᵀb) + u2·{s}(wᵀPb)"


class MLP(Model):
    """One hidden layer of width m, no biases: g(b) = sum_j v_j s(W_j b).
    theta = (W flattened row-major, v); ``train`` picks the layers that move."""

    name = "mlp"

    def num_params(self, d):
        return self.spec.width * (d + 1)

    def homogeneity(self):
        trained = self.spec.train
        if trained == "output":
            return 1
        if self.spec.activation not in POSITIVELY_HOMOGENEOUS:
            return None
        return 2 if trained == "both" else 1

    def _split(self, theta):
        m = self.spec.width
        batch = theta.shape[0]
        hidden = theta[:, : theta.shape[1] - m].reshape(batch, m, -1)
        return hidden, theta[:, theta.shape[1] - m:]

    def outputs(self, theta, data):
        hidden, out = self._split(theta)
        batch, m, d = hidden.shape
        pre = (hidden.reshape(batch * m, d) @ data.features.T).reshape(batch, m, -1)
        value, slope = activation(self.spec.activation, pre, self.spec.leak)
        g = torch.einsum("bm,bmn->bn", out, value)
        return g, (value, slope)

    def pullback(self, theta, data, saved, coef):
        value, slope = saved
        hidden, out = self._split(theta)
        batch, m, d = hidden.shape
        parts = []
        if self.spec.train in ("both", "hidden"):
            inner = coef[:, None, :] * out[:, :, None] * slope            # (B, m, n)
            parts.append((inner.reshape(batch * m, -1) @ data.features).reshape(batch, m * d))
        else:
            parts.append(torch.zeros(batch, m * d, dtype=theta.dtype, device=theta.device))
        if self.spec.train in ("both", "output"):
            parts.append(torch.einsum("bn,bmn->bm", coef, value))
        else:
            parts.append(torch.zeros(batch, m, dtype=theta.dtype, device=theta.device))
        return torch.cat(parts, dim=1)

    def describe(self):
        return f"g(b) = Σⱼ vⱼ {self.spec.activation}(Wⱼb), width {self.spec.width}, trained: {self.spec.train}"


MODEL_CLASSES = {cls.name: cls for cls in (Linear, TwoLayerConv, MLP)}


def build(spec: RunSpec) -> Model:
    return MODEL_CLASSES[spec.model](spec)
