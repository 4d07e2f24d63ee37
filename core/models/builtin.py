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
from typing import TYPE_CHECKING

import numpy as np

from core.kernel.lazy import lazy_module
from core.kernel.registry import Lookup, ModelKind, Names, model_kind, models, register_model

torch = lazy_module("torch", globals())
F = lazy_module("torch.nn.functional", globals(), "F")

if TYPE_CHECKING:                 # core.kernel.spec reads the model registry: no import at run time
    from core.kernel.spec import RunSpec


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


def activation_value(name: str, z: torch.Tensor, leak: float) -> torch.Tensor:
    """s(z) alone, with fused kernels (for models differentiated by autograd)."""
    if name == "identity":
        return z
    if name == "relu":
        return F.relu(z)
    if name == "leaky_relu":
        return F.leaky_relu(z, leak)
    return torch.tanh(z)


POSITIVELY_HOMOGENEOUS = ("identity", "relu", "leaky_relu")


@dataclass(frozen=True)
class SharedData:
    """The dataset on the device, with what each model precomputes once (never per run)."""

    features: torch.Tensor          # (n, d)
    labels: torch.Tensor            # (n,)
    stacked: torch.Tensor | None    # two_layer_conv: [b; Pb] (2n, d); linear+bias: [b, 1] (n, d+1)
    signed: torch.Tensor | None = None  # linear: rows y_i·[b_i(, 1)], so margins are one matmul
    patches: torch.Tensor | None = None  # cnn: the images' k x k patches (n·H·W, C·k²), made once


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

    def margins(self, theta: torch.Tensor, data: SharedData,
                out: torch.Tensor | None = None) -> tuple[torch.Tensor, object]:
        """m_ri = y_i g(b_i; θ_r), shape (B, n). ``out``: a (B, n) buffer a model may write
        the result into (the engine's hot loop reuses one instead of allocating every step)."""
        outputs, saved = self.outputs(theta, data)
        return outputs * data.labels, saved

    def margin_pullback(self, theta: torch.Tensor, data: SharedData, saved: object,
                        coef: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """sum_i coef[r, i] * grad_theta m_i(θ_r) = pullback of coef·y; ``out`` as in margins."""
        return self.pullback(theta, data, saved, coef * data.labels)

    def differentiable_margins(self, theta: torch.Tensor, data: SharedData) -> torch.Tensor:
        """Margins built with autograd-tracked ops (for Hessian-vector products)."""
        return self.margins(theta, data)[0]

    # Hooks with generic defaults: a model overrides those where it knows better.
    def hessian_vector_products(self, data: SharedData, theta: torch.Tensor,
                                activations: torch.Tensor | None = None):
        """A closed-form V ↦ (H_r v_r)_r at the rows of ``theta`` (core.analysis.sharpness), or None:
        then torch.func differentiates ``differentiable_margins``."""
        return None

    def starts_at_zero(self) -> bool:
        """θ₀ = 0 for every run: then θ_t/γ of GD is compared with one perceptron run at γ = 1
        (the perceptron gap ‖θ/γ − θ̂‖); otherwise each run gets its own (direction gap)."""
        return False

    def hvp_reuses_activations(self) -> bool:
        """Whether ``hessian_vector_products`` takes the step's own activations (``saved[0]``)."""
        return False

    def point_work(self, d: int) -> int:
        """Multiply-adds of one run's step per data point, roughly (shard planning)."""
        return self.num_params(d)

    def work_width(self) -> int:
        """Values per (run, point) a step keeps (outputs, activations): the memory guard."""
        return 1

    def data_values(self, n: int, d: int) -> int:
        """Values of the data and what ``prepare`` derives from it, on the device."""
        return 2 * n * d

    def size_fields(self) -> tuple[tuple[str, int], ...]:
        """The model's own size fields a memory refusal may name, with their values."""
        return ()

    def describe(self) -> str:
        return self.name


class Linear(Model):
    """g(b) = v^T b (+ bias). Starts at 0, so every run of a sweep shares theta_0."""

    name = "linear"

    def num_params(self, d: int) -> int:
        return d + (1 if self.spec.bias else 0)

    def hessian_vector_products(self, data, theta, activations=None):
        from core.analysis.sharpness import linear_hvp      # H = (1/n) Σ σ(mᵢ)σ(−mᵢ) xᵢxᵢᵀ
        return linear_hvp(data, theta)

    def prepare(self, features, labels):
        design = features
        if self.spec.bias:
            ones = torch.ones(features.shape[0], 1, dtype=features.dtype, device=features.device)
            design = torch.cat([features, ones], dim=1)
        return SharedData(features, labels, design if self.spec.bias else None,
                          labels[:, None] * design)

    def init(self, d, seed):
        return np.zeros(self.num_params(d))

    def starts_at_zero(self):
        return True

    def homogeneity(self):
        return 1

    def _design(self, data: SharedData) -> torch.Tensor:
        return data.stacked if data.stacked is not None else data.features

    def outputs(self, theta, data):
        return theta @ self._design(data).T, None

    def pullback(self, theta, data, saved, coef):
        return coef @ self._design(data)

    def margins(self, theta, data, out=None):
        if out is None or out.shape != (theta.shape[0], data.signed.shape[0]):
            return theta @ data.signed.T, None
        return torch.mm(theta, data.signed.T, out=out), None

    def margin_pullback(self, theta, data, saved, coef, out=None):
        if out is None or out.shape != (coef.shape[0], data.signed.shape[1]):
            return coef @ data.signed
        return torch.mm(coef, data.signed, out=out)

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

    def work_width(self):
        return 3        # wᵀb and wᵀPb, their activations and slopes, the pulled-back coefficients

    def data_values(self, n, d):
        return 3 * n * d                                   # b and the stacked [b; Pb]

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

    def work_width(self):
        return self.spec.width

    def size_fields(self):
        return (("width", self.spec.width),)

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


class CNN(Model):
    """Convolutions with kernel size k ('same' padding, stride 1), an activation, then a global
    average pool or a linear readout to one output.

    All (step size x seed) rows run as one network: the first convolution has B·c output
    channels over the shared images (no copy of the data per row), the second is a grouped
    convolution with B groups, and the readout is one einsum — a sweep is one set of tensor
    ops. ``batched = False`` runs the rows in a loop instead (same numbers; used as a fallback
    and to check the batched path)."""

    name = "cnn"

    def __init__(self, spec: RunSpec):
        super().__init__(spec)
        from core.kernel.registry import dataset_kind

        self.image_shape = dataset_kind(spec.dataset).image_shape
        self.batched = True

    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        channels_in, height, width = self.image_shape
        c, k = self.spec.channels, self.spec.kernel_size
        shapes = [("conv1.weight", (c, channels_in, k, k)), ("conv1.bias", (c,))]
        if self.spec.conv_layers == 2:
            shapes += [("conv2.weight", (c, c, k, k)), ("conv2.bias", (c,))]
        readout = c if self.spec.readout == "avg" else c * height * width
        return shapes + [("readout.weight", (readout,)), ("readout.bias", (1,))]

    def num_params(self, d):
        return sum(math.prod(shape) for _, shape in self.shapes())

    def init(self, d, seed):
        """Weights N(0, s²/fan_in) (s = init_scale), biases 0."""
        rng = np.random.default_rng(seed)
        parts = []
        for name, shape in self.shapes():
            if name.endswith("bias"):
                parts.append(np.zeros(math.prod(shape)))
                continue
            fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
            parts.append(self.spec.init_scale * rng.standard_normal(math.prod(shape)) / math.sqrt(fan_in))
        return np.concatenate(parts)

    def prepare(self, features, labels):
        images = features.reshape(features.shape[0], *self.image_shape)
        k = self.spec.kernel_size
        # 'same' padding as torch pads it: the odd pixel of an even kernel goes right/bottom
        padded = F.pad(images, ((k - 1) // 2, k // 2, (k - 1) // 2, k // 2))
        patches = F.unfold(padded, k).transpose(1, 2).reshape(-1, images.shape[1] * k * k)
        return SharedData(features, labels, images, patches=patches.contiguous())

    def homogeneity(self):
        return None

    def _split(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of the (B, p) rows as (B, *shape) parameter tensors."""
        params, offset = {}, 0
        for name, shape in self.shapes():
            size = math.prod(shape)
            params[name] = theta[:, offset: offset + size].reshape(theta.shape[0], *shape)
            offset += size
        return params

    def _forward(self, theta: torch.Tensor, data: SharedData) -> torch.Tensor:
        """The first convolution of every row is one matmul of the shared patches with all
        rows' kernels; a second one is a grouped convolution (B groups)."""
        batch, c = theta.shape[0], self.spec.channels
        n, (_, height, width) = data.stacked.shape[0], self.image_shape
        params = self._split(theta)
        kernels = params["conv1.weight"].reshape(batch * c, -1)
        hidden = data.patches @ kernels.T + params["conv1.bias"].reshape(1, batch * c)
        hidden = activation_value(self.spec.activation, hidden, self.spec.leak)
        hidden = hidden.reshape(n, height * width, batch, c)               # (n, pixel, row, channel)
        if self.spec.conv_layers == 2:
            images = hidden.permute(0, 2, 3, 1).reshape(n, batch * c, height, width)
            weight = params["conv2.weight"]
            images = F.conv2d(images, weight.reshape(batch * c, *weight.shape[2:]),
                              params["conv2.bias"].reshape(batch * c), padding="same", groups=batch)
            images = activation_value(self.spec.activation, images, self.spec.leak)
            hidden = images.reshape(n, batch, c, height * width).permute(0, 3, 1, 2)
        readout = params["readout.weight"]
        if self.spec.readout == "avg":
            outputs = torch.einsum("nbc,bc->bn", hidden.mean(dim=1), readout)
        else:   # the readout weights are laid out (channel, pixel), like a flattened NCHW map
            outputs = torch.einsum("npbc,bcp->bn", hidden, readout.reshape(batch, c, height * width))
        return outputs + params["readout.bias"]

    def _outputs(self, theta: torch.Tensor, data: SharedData) -> torch.Tensor:
        if self.batched and theta.shape[0] > 1:
            return self._forward(theta, data)
        return torch.cat([self._forward(row[None], data) for row in theta])

    def point_work(self, d):
        return d * self.spec.channels * self.spec.kernel_size ** 2 * self.spec.conv_layers

    def work_width(self):
        if self._closed_form():      # the activations and their slopes, written out
            return self.spec.channels * self.image_pixels()
        return self.spec.channels * self.image_pixels() * self.spec.conv_layers * 4   # kept for backward

    def data_values(self, n, d):
        return 2 * n * d + n * d * self.spec.kernel_size ** 2   # and the first convolution's patches

    def image_pixels(self) -> int:
        return math.prod(self.image_shape)

    def hvp_reuses_activations(self):
        return self._closed_form()

    def hessian_vector_products(self, data, theta, activations=None):
        if not self._closed_form():
            return None
        from core.analysis.sharpness import pooled_cnn_hvp
        return pooled_cnn_hvp(self, data, theta, activations)

    def _closed_form(self) -> bool:
        """One convolution and the average pool: outputs and gradients written out (below).
        Autograd through the pooled map expands and copies the (n·HW, B·c) activations
        several times per step; the closed form reads them twice."""
        return self.batched and self.spec.conv_layers == 1 and self.spec.readout == "avg"

    def outputs(self, theta, data):
        if self._closed_form():
            return self._pooled_forward(theta, data)
        with torch.enable_grad():
            variable = theta.detach().requires_grad_(True)
            outputs = self._outputs(variable, data)
        return outputs.detach(), (variable, outputs)

    def pullback(self, theta, data, saved, coef):
        if self._closed_form():
            return self._pooled_pullback(theta, data, saved, coef)
        variable, outputs = saved
        (grad,) = torch.autograd.grad(outputs, variable, grad_outputs=coef)
        return grad

    def _pooled_forward(self, theta, data):
        """g_r(b) = Σ_c u_rc · mean_pixels s(K_rc · patch + β_rc) + u_r0."""
        batch, c = theta.shape[0], self.spec.channels
        n, pixels = data.stacked.shape[0], self.image_shape[1] * self.image_shape[2]
        params = self._split(theta)
        kernels = params["conv1.weight"].reshape(batch * c, -1)
        hidden = torch.addmm(params["conv1.bias"].reshape(1, batch * c), data.patches, kernels.T)
        name, leak = self.spec.activation, self.spec.leak
        if name == "relu":
            hidden.relu_()
        elif name == "leaky_relu":
            hidden = F.leaky_relu(hidden, leak, inplace=True)
        elif name == "tanh":
            hidden.tanh_()
        pooled = hidden.view(n, pixels, batch * c).mean(dim=1).view(n, batch, c)
        outputs = torch.einsum("nbc,bc->bn", pooled, params["readout.weight"])
        return outputs + params["readout.bias"], (hidden, pooled)

    def _pooled_pullback(self, theta, data, saved, coef):
        """With a = s(h) the activations: ∂/∂u_rc = Σ_n coef_rn pooled_nrc, ∂/∂u_r0 = Σ_n coef_rn,
        and ∂/∂h at (n, pixel, r, c) = coef_rn u_rc s'(h) / HW, pulled back through the patches."""
        hidden, pooled = saved
        batch, c = theta.shape[0], self.spec.channels
        n, pixels = pooled.shape[0], self.image_shape[1] * self.image_shape[2]
        readout = self._split(theta)["readout.weight"]
        per_image = (coef.T[:, :, None] * readout[None] / pixels).reshape(n, 1, batch * c)
        name = self.spec.activation
        if name == "identity":
            patch_sums = data.patches.view(n, pixels, -1).sum(dim=1)
            d_kernels = per_image[:, 0].T @ patch_sums
            d_bias = per_image[:, 0].sum(dim=0) * pixels
        else:
            # s'(h) written from a = s(h), as one fresh float tensor that is then scaled in
            # place (a broadcast multiply of a bool mask is several times slower on the CPU)
            if name == "relu":
                slope = torch.sign(hidden)          # a ≥ 0; s'(0) = 0 as in autograd
            elif name == "leaky_relu":
                slope = (hidden > 0).to(hidden.dtype).mul_(1 - self.spec.leak).add_(self.spec.leak)
            else:   # tanh: s' = 1 − a²
                slope = torch.mul(hidden, hidden).neg_().add_(1)
            d_hidden = slope.view(n, pixels, batch * c).mul_(per_image)
            d_bias = d_hidden.sum(dim=(0, 1))
            d_kernels = (data.patches.T @ d_hidden.view(n * pixels, batch * c)).T
        d_readout = torch.einsum("bn,nbc->bc", coef, pooled)
        return torch.cat([d_kernels.reshape(batch, -1), d_bias.reshape(batch, c), d_readout,
                          coef.sum(dim=1, keepdim=True)], dim=1)

    def differentiable_margins(self, theta, data):
        return self._outputs(theta, data) * data.labels

    def describe(self):
        s = self.spec
        pool = "global average pool" if s.readout == "avg" else "linear readout"
        return (f"{s.conv_layers} conv layer(s), kernel {s.kernel_size}, {s.channels} channels, "
                f"{s.activation}, {pool}")


# ---------------------------------------------------------------------- the built-in models
NONLINEAR_FIELDS = ("activation", "leak", "init_scale")
register_model(ModelKind(
    "linear", "linear  g(b) = vᵀb", "linear", Linear, fields=("bias",),
    description="g(b) = vᵀb (+ c), starting at θ₀ = 0"))
register_model(ModelKind(
    "two_layer_conv", "two-layer conv  u₁·s(wᵀb) + u₂·s(wᵀPb)", "nonlinear", TwoLayerConv,
    fields=NONLINEAR_FIELDS, min_d=2, min_d_reason="it convolves with a cyclic shift",
    description="science.md §2: u₁·s(wᵀb) + u₂·s(wᵀPb), P the cyclic shift"))
register_model(ModelKind(
    "mlp", "MLP, one hidden layer", "nonlinear", MLP,
    fields=NONLINEAR_FIELDS + ("width", "train"), collapses=True,
    description="Σⱼ vⱼ s(Wⱼb), hidden width m, no biases"))
register_model(ModelKind(
    "cnn", "CNN", "nonlinear", CNN,
    fields=NONLINEAR_FIELDS + ("kernel_size", "channels", "conv_layers", "readout"),
    default_activation="relu", needs_images=True, collapses=True,
    description="convolutions, an activation, then an average pool or a linear readout"))
register_model(ModelKind(
    "shallow_linear", "shallow linear network  L = ½(aᵀb − Φ)²", "shallow", None,
    fields=("phi", "init", "a", "b", "tol", "init_scale"),
    description="science.md §3: the a·b network, run by core/engine/shallow.py"))

# Views of the registry (read when used, so a registered model is in them).
MODEL_CLASSES = Lookup(lambda: {name: kind.build for name, kind in models().items()
                                if kind.build is not None})


def build(spec: RunSpec) -> Model:
    kind = model_kind(spec.model)
    if kind.build is None:
        raise ValueError(f"{spec.model} is not run by the batched engine")
    return kind.build(spec)


# Collapse: a network whose output no longer depends on its input (every unit
# dead, or a constant output) cannot separate anything and receives no gradient through its
# hidden layer; it will never solve, which is different from "not solved yet".
COLLAPSE_MODELS = Names(lambda: (name for name, kind in models().items() if kind.collapses))
COLLAPSE_TOLERANCE = 1e-9


def collapsed_rows(model: Model, theta: torch.Tensor, data: SharedData) -> np.ndarray:
    """Per row of ``theta``: True when the outputs over the whole dataset are constant (their
    spread ≤ 1e-9 × max(1, largest |output|)); non-finite outputs are not a collapse (that is
    divergence)."""
    with torch.no_grad():
        outputs, _ = model.outputs(theta, data)
    outputs = outputs.double()
    spread = outputs.amax(dim=1) - outputs.amin(dim=1)
    size = outputs.abs().amax(dim=1).clamp(min=1.0)
    finite = torch.isfinite(outputs).all(dim=1)
    return (finite & (spread <= COLLAPSE_TOLERANCE * size)).cpu().numpy()
