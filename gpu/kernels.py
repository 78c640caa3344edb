"""Fused CUDA kernel (CuPy RawModule): logistic losses and per-task gradients in one pass over X.

For every replica-task pair (b, i), with n rows x_k ∈ R^d:

    ℓ_i = (1/n) Σ_k [log(1 + e^{z_k}) − y_k z_k],   ∇ℓ_i = (1/n) Σ_k (σ(z_k) − y_k) x_k,
    z_k = x_kᵀθ

Each warp processes one row at a time. Lane l holds columns l, l+32, … in registers, so the dot
product (warp shuffle) and the gradient accumulation use the *same* loaded values: X is read
from memory exactly once, in coalesced 128-byte segments. The per-lane gradient accumulators, the
block reduction (shared memory) and the global sums are float64, whatever the storage dtype of X.
The float32 path therefore keeps the gradients, losses and excess-risk estimates accurate, and only
x_kᵀθ is formed in float32.

The kernel is compiled per (dtype, ⌈d/32⌉), so the register arrays have a compile-time size.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .backend import require_cupy

THREADS = 256           # 8 warps per block
MAX_DIM = 32 * 64       # d <= 2048 (64 registers of columns per lane)

SOURCE = r"""
typedef {ctype} T;
#define KMAX {kmax}

extern "C" __global__ void logistic_loss_grad(
    const T* __restrict__ X,        // (BM, n, d), C-contiguous
    const T* __restrict__ y,        // (BM, n)
    const T* __restrict__ theta,    // (BM, d)
    double* __restrict__ loss,      // (BM,), zeroed: sum over rows
    double* __restrict__ grad,      // (BM, d), zeroed: sum over rows
    const long long n, const int d)
{{
    __shared__ double block_grad[KMAX * 32];
    __shared__ double block_loss;
    const int task = blockIdx.y;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int nwarps = blockDim.x >> 5;
    for (int j = threadIdx.x; j < KMAX * 32; j += blockDim.x) block_grad[j] = 0.0;
    if (threadIdx.x == 0) block_loss = 0.0;
    __syncthreads();

    const T* Xt = X + (long long)task * n * d;
    const T* yt = y + (long long)task * n;
    const T* th = theta + (long long)task * d;
    T thv[KMAX];
    double acc[KMAX];
    #pragma unroll
    for (int k = 0; k < KMAX; ++k) {{
        const int j = lane + 32 * k;
        thv[k] = (j < d) ? th[j] : (T)0;
        acc[k] = 0.0;
    }}
    double lacc = 0.0;
    const long long stride = (long long)gridDim.x * nwarps;
    for (long long r = (long long)blockIdx.x * nwarps + warp; r < n; r += stride) {{
        const T* xr = Xt + r * d;
        T xv[KMAX];
        T part = (T)0;
        #pragma unroll
        for (int k = 0; k < KMAX; ++k) {{
            const int j = lane + 32 * k;
            xv[k] = (j < d) ? xr[j] : (T)0;
            part += xv[k] * thv[k];
        }}
        #pragma unroll
        for (int off = 16; off > 0; off >>= 1) part += __shfl_xor_sync(0xffffffffu, part, off);
        const double z = (double)part;
        const double yr = (double)yt[r];
        const double res = 1.0 / (1.0 + exp(-z)) - yr;
        #pragma unroll
        for (int k = 0; k < KMAX; ++k) acc[k] += res * (double)xv[k];
        if (lane == 0) lacc += (z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z))) - yr * z;
    }}
    #pragma unroll
    for (int k = 0; k < KMAX; ++k) {{
        const int j = lane + 32 * k;
        if (j < d) atomicAdd(&block_grad[j], acc[k]);
    }}
    if (lane == 0) atomicAdd(&block_loss, lacc);
    __syncthreads();
    for (int j = threadIdx.x; j < d; j += blockDim.x)
        atomicAdd(&grad[(long long)task * d + j], block_grad[j]);
    if (threadIdx.x == 0) atomicAdd(&loss[task], block_loss);
}}
"""


def kernel_source(dtype: str, dim: int) -> str:
    """The CUDA source for a storage dtype ('float32'|'float64') and dimension d."""
    if dim < 1 or dim > MAX_DIM:
        raise ValueError(f"the fused kernel supports 1 <= d <= {MAX_DIM}, got d = {dim}")
    ctype = {"float32": "float", "float64": "double"}[dtype]
    return SOURCE.format(ctype=ctype, kmax=math.ceil(dim / 32))


@lru_cache(maxsize=32)
def _compiled(dtype: str, kmax_dim: int):
    cp = require_cupy()
    module = cp.RawModule(code=kernel_source(dtype, kmax_dim), options=("--std=c++11",))
    return module.get_function("logistic_loss_grad")


@lru_cache(maxsize=1)
def _sm_count() -> int:
    cp = require_cupy()
    return int(cp.cuda.Device().attributes["MultiProcessorCount"])


def logistic_loss_grad(X: object, y: object, theta: object) -> tuple[object, object]:
    """(ℓ (B, m), ∇ℓ (B, m, d)) in float64 from X (B, m, n, d), y (B, m, n), θ (B, m, d) on the
    GPU. The L2 term is added by the caller."""
    cp = require_cupy()
    B, m, n, d = X.shape
    dtype = "float32" if X.dtype == np.float32 else "float64"
    Xc = cp.ascontiguousarray(X).reshape(B * m, n, d)
    yc = cp.ascontiguousarray(y, dtype=X.dtype).reshape(B * m, n)
    tc = cp.ascontiguousarray(theta, dtype=X.dtype).reshape(B * m, d)
    loss = cp.zeros(B * m, dtype=cp.float64)
    grad = cp.zeros((B * m, d), dtype=cp.float64)
    warps = THREADS // 32
    per_task = max(1, min(math.ceil(8 * _sm_count() / (B * m)), math.ceil(n / warps)))
    kernel = _compiled(dtype, 32 * math.ceil(d / 32))
    kernel((per_task, B * m), (THREADS,), (Xc, yc, tc, loss, grad, np.int64(n), np.int32(d)))
    return (loss / n).reshape(B, m), (grad / n).reshape(B, m, d)
