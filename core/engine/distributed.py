"""Where sweeps run: in this process (``local``) or on a Ray cluster (``ray``), in shards.

A spec is cut into *shards* by :func:`plan`: blocks of its step sizes x seeds, each of which
is itself a valid spec (a subset of the step sizes, a subset of the seeds) and is computed as
one batched run. The plan depends on the spec and the data size only — never on the backend
or the cluster — and the local backend computes exactly the same shards, so a merged result
is the same, bit for bit, whichever backend computed it (same canonical spec, same cache key).

Why the local backend shards too: the engine's per-run numbers depend on which runs share its
batch (a run's recorded history thins as the *longest* run of its batch goes on, the loop ends
when the whole batch has stopped, and BLAS sums in a different order for other matrix shapes).
So "the same runs in smaller batches" is a different computation; identity across backends is
by construction, not by tolerance. Small specs (almost all) are one shard: for them nothing
changes. ``d`` (and CNN kernel sizes, one spec each) are sharded by the callers that make one
spec per value (``core.api.run_all``, used by ``sweep_dimensions``).

Each shard is cached under its own key (the key of its sub-spec), so a rerun after a failure
computes only the missing shards. The cache lives with the driver (this process); workers
never see it. Ray retries a shard whose worker died; the result is the same computation again.

Settings: ``GDX_BACKEND`` (local | ray), ``GDX_RAY_ADDRESS`` (a running cluster; unset: a
local Ray instance with at most 2 CPUs and no dashboard), the CLI's ``--backend`` and
``--ray-address``, and the dashboard's sidebar switch.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from core.kernel.errors import SpecError
from core.kernel.registry import model_family
from core.kernel.spec import RunSpec
from core.kernel.settings import env_text

BACKENDS = ("local", "ray")
BACKEND_VARIABLE = "GDX_BACKEND"
ADDRESS_VARIABLE = "GDX_RAY_ADDRESS"

# One shard does at most about this many multiply-adds per iteration (rows x n x parameters);
# a spec with more is cut into shards. Part of the result's definition (see the module text).
SHARD_WORK = 2**26
LOCAL_RAY_CPUS = 2                      # a local Ray instance (no address) uses at most this
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20
CONNECT_TIMEOUT_S = 8.0                 # joining a cluster fails with one line after this
PROBE_TIMEOUT_S = 3.0                   # a cluster address must answer a connection this fast
TASK_RETRIES = 3                        # a shard whose worker dies is run again this often
POLL_S = 0.2
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

Progress = Callable[[float], None]


class BackendError(SpecError):
    """The chosen backend cannot run (Ray missing, cluster unreachable, workers lost)."""

    def __init__(self, message: str):
        super().__init__("ray_address", message)


class Cancelled(RuntimeError):
    """Another part of the same computation failed or was stopped."""


# ---------------------------------------------------------------------- backend choice
@dataclass(frozen=True)
class Backend:
    name: str = "local"
    address: str = ""          # "" with ray: start a local instance

    def describe(self) -> str:
        if self.name == "local":
            return "local (this process)"
        return f"Ray cluster at {self.address}" if self.address else \
            f"a local Ray instance ({LOCAL_RAY_CPUS} CPUs)"


_override: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("gdx_backend", default=None)
_session_resolver: Callable[[], str | None] | None = None


def check_name(name: str, source: str = "backend") -> str:
    name = (name or "").strip().lower()
    if name not in BACKENDS:
        raise SpecError(source, f"{name!r} is not one of {', '.join(BACKENDS)}")
    return name


def backend_from_env() -> Backend:
    name = env_text(BACKEND_VARIABLE).strip() or "local"
    return Backend(check_name(name, BACKEND_VARIABLE), env_text(ADDRESS_VARIABLE).strip())


def set_session_resolver(resolver: Callable[[], str | None] | None) -> None:
    """The dashboard registers a function giving the current session's choice (None: none)."""
    global _session_resolver
    _session_resolver = resolver


def current_backend() -> Backend:
    """The backend of this computation: an explicit :func:`use_backend`, else the dashboard
    session's setting, else ``GDX_BACKEND`` / ``GDX_RAY_ADDRESS``."""
    chosen = _override.get()
    if chosen is not None:
        return chosen
    from_env = backend_from_env()
    if _session_resolver is not None:
        name = _session_resolver()
        if name:
            return Backend(check_name(name), from_env.address)
    return from_env


@contextlib.contextmanager
def use_backend(name: str | None = None, address: str | None = None) -> Iterator[Backend]:
    """Run the block's sweeps on ``name`` (default: GDX_BACKEND) at ``address`` (default:
    GDX_RAY_ADDRESS). An address alone implies ray."""
    from_env = backend_from_env()
    if name is None:
        name = "ray" if address else from_env.name
    backend = Backend(check_name(name), from_env.address if address is None else address.strip())
    token = _override.set(backend)
    try:
        yield backend
    finally:
        _override.reset(token)


def add_arguments(parser) -> None:
    """``--backend`` and ``--ray-address`` for a CLI command."""
    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help=f"where sweeps run (default: ${BACKEND_VARIABLE} or local)")
    parser.add_argument("--ray-address", default=None,
                        help=f"a running Ray cluster, host:port (default: ${ADDRESS_VARIABLE}; "
                             "unset: a local Ray instance); implies --backend ray")


def from_args(args) -> contextlib.AbstractContextManager:
    """The backend context of a parsed CLI command (a no-op for commands without the flags)."""
    if not hasattr(args, "backend"):
        return contextlib.nullcontext()
    if args.backend == "local" and args.ray_address:
        raise SpecError("ray_address", "needs --backend ray (or no --backend)")
    return use_backend(args.backend, args.ray_address)


# ---------------------------------------------------------------------- the shard plan
@dataclass(frozen=True)
class Shard:
    steps: tuple[int, int]     # [start, stop) into spec.step_sizes
    seeds: tuple[int, int]     # [start, stop) into spec.seeds
    spec: RunSpec

    @property
    def rows(self) -> int:
        return (self.steps[1] - self.steps[0]) * (self.seeds[1] - self.seeds[0])


def row_work(spec: RunSpec, n: int, d: int) -> int:
    """Multiply-adds of one run's iteration, roughly: n x (parameters, or pixels x filters)."""
    from core.models.builtin import build
    return max(1, n) * max(1, build(spec).point_work(d))


def _split(count: int, parts: int) -> list[tuple[int, int]]:
    """[0, count) in ``parts`` consecutive blocks whose sizes differ by at most one."""
    parts = max(1, min(parts, count))
    size, extra = divmod(count, parts)
    blocks, start = [], 0
    for index in range(parts):
        stop = start + size + (1 if index < extra else 0)
        blocks.append((start, stop))
        start = stop
    return blocks


def plan(spec: RunSpec, n: int, d: int, work: int | None = None) -> list[Shard]:
    """The shards of a validated spec: blocks of step sizes x seeds of at most ``work``
    (default SHARD_WORK) multiply-adds per iteration, whole step sizes first. The shallow
    network (cheap, closed-form) is always one shard."""
    budget = SHARD_WORK if work is None else work
    steps, seeds = len(spec.step_sizes), len(spec.seeds)
    whole = [Shard((0, steps), (0, seeds), spec)]
    if model_family(spec.model) == "shallow" or spec.batch_size <= 1:
        return whole
    per_row = row_work(spec, n, d)
    if spec.batch_size * per_row <= budget:
        return whole
    rows = max(1, budget // per_row)
    if seeds <= rows:
        step_blocks = _split(steps, math.ceil(steps / (rows // seeds)))
        seed_blocks = [(0, seeds)]
    else:
        step_blocks = [(index, index + 1) for index in range(steps)]
        seed_blocks = _split(seeds, math.ceil(seeds / rows))
    return [Shard(g, s, spec.replace(step_sizes=spec.step_sizes[g[0]:g[1]],
                                     seeds=spec.seeds[s[0]:s[1]]))
            for g in step_blocks for s in seed_blocks]


def merge(spec: RunSpec, shards: Sequence[Shard], parts: Sequence):
    """One result from the shards' results, runs in the spec's order (step-major)."""
    from core.engine.results import SweepResult

    if len(parts) == 1:
        return parts[0]
    seeds = len(spec.seeds)
    runs: list = [None] * spec.batch_size
    for shard, part in zip(shards, parts):
        if len(part.runs) != shard.rows:
            raise ValueError(f"a shard returned {len(part.runs)} runs, expected {shard.rows}")
        records = iter(part.runs)
        for g in range(*shard.steps):
            for s in range(*shard.seeds):
                runs[g * seeds + s] = next(records)
    meta = dict(parts[0].meta)
    meta.pop("key", None)
    meta["seconds"] = float(sum(part.meta.get("seconds", 0.0) for part in parts))
    meta["shards"] = len(parts)
    return SweepResult(spec, runs, meta)


# ---------------------------------------------------------------------- progress
class ShardProgress:
    """Shards planned and done in one computation (thread-safe); the CLI's progress line and
    the dashboard's progress bar read it through :func:`shard_note`."""

    def __init__(self, remote: bool = False):
        self.total = 0
        self.done = 0
        self.cached = 0
        self.remote = remote
        self.cancelled = threading.Event()
        self._lock = threading.Lock()

    def planned(self, count: int) -> None:
        with self._lock:
            self.total += count

    def finished(self, count: int = 1, cached: bool = False) -> None:
        with self._lock:
            self.done += count
            self.cached += count if cached else 0

    def fraction(self) -> float:
        with self._lock:
            return self.done / self.total if self.total else 0.0


_tracker: contextvars.ContextVar[ShardProgress | None] = contextvars.ContextVar("gdx_shards", default=None)


def shard_note() -> str:
    """`` · shards 3/12`` while a sharded or Ray computation runs in this context, else ""."""
    tracker = _tracker.get()
    if tracker is None or not (tracker.remote or tracker.total > 1):
        return ""
    return f" · shards {tracker.done}/{tracker.total}"


@contextlib.contextmanager
def _tracking(remote: bool) -> Iterator[ShardProgress]:
    tracker = _tracker.get()
    if tracker is not None:
        yield tracker
        return
    tracker = ShardProgress(remote)
    token = _tracker.set(tracker)
    try:
        yield tracker
    finally:
        _tracker.reset(token)


# ---------------------------------------------------------------------- computing
def _thread_count() -> int:
    import torch
    return torch.get_num_threads()


def run_shard(spec: RunSpec, dataset, device_type: str, threads: int = 0,
              progress: Progress | None = None):
    """One shard, as one batched run, on ``device_type`` with ``threads`` torch threads (the
    driver's count: float reductions may round differently with another)."""
    import torch

    from core.engine.batched import run_sweep
    from core.engine.shallow import run_shallow

    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    pinned = spec.replace(device=device_type)
    if model_family(spec.model) == "shallow":
        result = run_shallow(pinned, progress)
    else:
        result = run_sweep(pinned, dataset, progress)
    result.spec = spec
    return result


def _remote_shard(spec: RunSpec, dataset, device_type: str, threads: int):
    """The Ray task: the shard's result and where it ran."""
    import ray

    result = run_shard(spec, dataset, device_type, threads)
    return result, {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}


# Where the last Ray shards ran (node id, pid), newest last: for tests and the benchmark.
LAST_PLACEMENTS: list[dict] = []


def compute(spec: RunSpec, dataset, device, cache=None, progress: Progress | None = None):
    """The result of a validated spec on the current backend: its shards from the cache where
    stored, the rest computed (in this process, or as Ray tasks), each stored as it arrives,
    merged. ``api.run_spec`` calls this and stores the merged result under the spec's key."""
    from core.store.cache import cache_key

    backend = current_backend()
    shallow = model_family(spec.model) == "shallow"
    n, d = (0, spec.d or 0) if shallow else (dataset.n, dataset.d)
    shards = plan(spec, n, d)
    remote = backend.name == "ray"
    with _tracking(remote) as tracker:
        tracker.planned(len(shards))
        if not remote and len(shards) == 1:      # the plain local run, exactly as ever
            from core.engine.batched import run_sweep
            from core.engine.shallow import run_shallow
            result = run_shallow(spec, progress) if shallow else run_sweep(spec, dataset, progress)
            tracker.finished()
            return result
        fingerprint = "" if shallow else dataset.fingerprint
        parts: list = [None] * len(shards)
        keys = [cache_key(s.spec, device.type, fingerprint) for s in shards]
        sharded_cache = cache if len(shards) > 1 else None     # one shard: api stores it
        if sharded_cache is not None:
            for index, key in enumerate(keys):
                parts[index] = sharded_cache.get(key)
                if parts[index] is not None:
                    tracker.finished(cached=True)
        missing = [index for index, part in enumerate(parts) if part is None]

        def arrived(index: int, part) -> None:
            parts[index] = part
            if sharded_cache is not None:
                sharded_cache.put(keys[index], part)
            tracker.finished()

        if remote:
            _compute_on_ray(backend, shards, missing, dataset, device, tracker, arrived, progress)
        else:
            for number, index in enumerate(missing):
                if tracker.cancelled.is_set():
                    raise Cancelled("stopped")
                base = len(shards) - len(missing) + number
                arrived(index, run_shard(
                    shards[index].spec, dataset, device.type, 0,
                    None if progress is None else
                    (lambda f, base=base: progress((base + f) / len(shards)))))
        if progress is not None:
            progress(1.0)
        return merge(spec, shards, parts)


def _compute_on_ray(backend: Backend, shards, missing, dataset, device, tracker, arrived,
                    progress) -> None:
    if not missing:
        return
    ray = ensure_ray(backend)
    task = _ray_task(ray)
    options = {"num_cpus": 1, "max_retries": TASK_RETRIES}
    if device.type == "cuda":
        options["num_gpus"] = 1
    threads = _thread_count()
    data = ray.put(dataset)
    pending = {task.options(**options).remote(shards[index].spec, data, device.type, threads): index
               for index in missing}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
            for ref in ready:
                index = pending.pop(ref)
                part, where = _fetch(ray, ref, shards[index])
                LAST_PLACEMENTS.append(where)
                del LAST_PLACEMENTS[:-1000]
                arrived(index, part)
            if tracker.cancelled.is_set():
                raise Cancelled("stopped")
            if progress is not None:
                progress(min(tracker.fraction(), 0.999))   # lets the caller stop the run
    finally:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref)


def _fetch(ray, ref, shard: Shard):
    from ray.exceptions import RayError, RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as error:          # the shard's own exception (SpecError, MemoryError...)
        cause = getattr(error, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise
    except RayError as error:              # workers lost beyond the retries, cluster gone
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BackendError(f"the Ray cluster lost the shard {shard.spec.canonical()} after "
                           f"{TASK_RETRIES} retries ({type(error).__name__}: {first})") from None


_task = None


def _ray_task(ray):
    global _task
    if _task is None:
        _task = ray.remote(_remote_shard)
    return _task


# ---------------------------------------------------------------------- joining Ray
_ray_lock = threading.Lock()
_connected_to: str | None = None


_cluster_flag: list = []


def _pin_loopback(on: bool = True) -> None:
    """Keep a loopback Ray on 127.0.0.1: by default Ray replaces 127.0.0.1 by the machine's
    outward address. (Ray reads this private flag when it picks the node's address; it is put
    back for a cluster at another address.)"""
    from ray._private import ray_constants
    if not _cluster_flag:
        _cluster_flag.append(ray_constants.ENABLE_RAY_CLUSTER)
    ray_constants.ENABLE_RAY_CLUSTER = False if on else _cluster_flag[0]


def _split_address(address: str) -> tuple[str, int] | None:
    text = address[len("ray://"):] if address.startswith("ray://") else address
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _probe(address: str, parsed: tuple[str, int]) -> None:
    """Fail fast, before Ray's own minutes-long retries: the port must accept a connection
    and answer like a gRPC server (Ray's GCS and client server are gRPC: an HTTP/2 SETTINGS
    frame comes back at once). Skipped with TLS, where the handshake comes first."""
    try:
        with socket.create_connection(parsed, timeout=PROBE_TIMEOUT_S) as connection:
            if env_text("RAY_USE_TLS", "0").lower() in ("1", "true"):
                return
            connection.sendall(_HTTP2_PREFACE)
            answer = connection.recv(9)
    except socket.timeout:
        raise BackendError(_unreachable(address, f"no answer in {PROBE_TIMEOUT_S:g} s")) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise BackendError(_unreachable(address, reason)) from None
    if len(answer) < 4 or answer[3] != 4:          # not an HTTP/2 SETTINGS frame
        raise BackendError(_unreachable(address, "it does not answer like a Ray cluster"))
    _ask_ray(address, parsed)


def _ask_ray(address: str, parsed: tuple[str, int]) -> None:
    """One Ray call with a deadline: any HTTP/2 (gRPC) server passes the socket probe, and
    ray.init would then retry for seconds, print Ray's warnings and leave its thread running.
    The GCS answers GetClusterId, a Ray client server (ray://) answers a ping; anything else
    is refused in one line within PROBE_TIMEOUT_S, with nothing left running."""
    import grpc

    host, port = parsed
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    channel = grpc.insecure_channel(target)
    try:
        if address.startswith("ray://"):
            from ray.core.generated import ray_client_pb2, ray_client_pb2_grpc

            ping = ray_client_pb2.ClusterInfoRequest(type=ray_client_pb2.ClusterInfoType.PING)
            ray_client_pb2_grpc.RayletDriverStub(channel).ClusterInfo(ping, timeout=PROBE_TIMEOUT_S)
        else:
            from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

            gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel).GetClusterId(
                gcs_service_pb2.GetClusterIdRequest(), timeout=PROBE_TIMEOUT_S)
    except grpc.RpcError as error:
        code = error.code().name if hasattr(error, "code") and error.code() else "no answer"
        raise BackendError(_unreachable(address, f"it does not answer like a Ray cluster "
                                                 f"(gRPC {code})")) from None
    finally:
        channel.close()


def _unreachable(address: str, reason: str) -> str:
    return (f"cannot reach the Ray cluster at {address} (set by {ADDRESS_VARIABLE} or "
            f"--ray-address): {reason}; start it with `ray start --head`, fix "
            f"{ADDRESS_VARIABLE}, or use --backend local")


def ensure_ray(backend: Backend):
    """``ray``, connected: to ``backend.address``, or to a local instance started here (no
    dashboard, at most LOCAL_RAY_CPUS CPUs). One clear :class:`BackendError` within
    CONNECT_TIMEOUT_S when the cluster cannot be reached, never a hang."""
    global _connected_to
    try:
        import ray
    except ImportError:
        raise BackendError("the ray backend needs Ray, which is not installed: run "
                           "`bash setup.sh --with-ray` (or .venv/bin/pip install -r "
                           "requirements-ray.txt)") from None
    target = backend.address or "local"
    parsed = _split_address(backend.address) if backend.address else None
    if backend.address and backend.address != "auto":
        if parsed is None:
            raise BackendError(f"{ADDRESS_VARIABLE}={backend.address!r} is not host:port")
        if not (ray.is_initialized() and _connected_to == target):
            _probe(backend.address, parsed)       # before leaving any current cluster
    with _ray_lock:
        if ray.is_initialized():
            if _connected_to in (None, target):     # ours, or one the caller started
                return ray
            ray.shutdown()
        _connected_to = None
        if not backend.address:
            _pin_loopback()
            ray.init(address="local", num_cpus=min(LOCAL_RAY_CPUS, os.cpu_count() or 1), include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, logging_level=logging.WARNING,
                     log_to_driver=False)
        else:
            _join(ray, backend.address)
        _connected_to = target
        return ray


def _join(ray, address: str) -> None:
    parsed = _split_address(address)
    _pin_loopback(parsed is not None and parsed[0] in LOOPBACK_HOSTS)
    # The workers import this package from the driver's copy, so they run the driver's code.
    runtime_env = {"py_modules": [str(Path(__file__).resolve().parents[1])]}
    outcome: dict = {}

    def connect() -> None:
        try:
            ray.init(address=address, runtime_env=runtime_env, logging_level=logging.WARNING,
                     log_to_driver=False)
            outcome["ok"] = True
        except BaseException as error:       # reported by the caller
            outcome["error"] = error

    worker = threading.Thread(target=connect, name="gdx-ray-connect", daemon=True)
    worker.start()
    worker.join(CONNECT_TIMEOUT_S)
    if worker.is_alive():
        raise BackendError(_unreachable(address, f"no answer in {CONNECT_TIMEOUT_S:g} s"))
    if "error" in outcome:
        error = outcome["error"]
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise BackendError(_unreachable(address, f"{type(error).__name__}: {first}"[:300]))


def shutdown() -> None:
    """Leave the Ray cluster (stopping a local instance this process started)."""
    global _connected_to
    with _ray_lock:
        try:
            import ray
        except ImportError:
            return
        if ray.is_initialized():
            ray.shutdown()
        _connected_to = None
