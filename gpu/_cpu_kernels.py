"""The numba kernels behind ``gpu.cpu_fused`` (its docstring has the maths and the accuracy).

This module imports numba at its top. ``gpu.cpu_fused`` imports it on first use only, so
``import gpu`` never loads numba. Every constant that the compiled code uses is defined here:
numba's disk cache is invalidated by a change of this file, not of the files it imports.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic


def jit(**options: object):
    """``numba.njit(cache=True, error_model="numpy", **options)``, without the disk cache where
    numba has no writable location for it: it raises RuntimeError at decoration then (a
    read-only install without a user cache directory), and the function is compiled once per
    process instead. ``error_model="numpy"``: x/0 gives ±inf or NaN as in NumPy, not a
    ZeroDivisionError check that keeps the loops from vectorising."""
    options = {"error_model": "numpy", **options}

    def decorate(fn):
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:
            return numba.njit(cache=False, **options)(fn)
    return decorate


BLOCK = 64                               # rows per block: 64·d values of X stay in L1
AHEAD = 2 * BLOCK                        # rows prefetched ahead of the block being computed
LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01     # Cody–Waite split of ln 2: LN2_HI·k is exact, |k| < 2^11
LN2_LO = 1.90821492927058770002e-10
TWO_M54 = 2.0 ** -54
# e^r, |r| <= ln2/2: Taylor coefficients 1/j!, j <= 13 (the remainder is < 4e-18)
E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, E10, E11, E12, E13 = (1.0 / math.factorial(j)
                                                              for j in range(14))
# log1p(e) = 2 atanh(s) = 2s Σ_k s^{2k}/(2k+1), s = e/(2+e) <= 1/3: 17 terms (the next < 2^-56)
(L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11, L12, L13, L14, L15,
 L16) = (1.0 / (2 * k + 1) for k in range(17))
FASTMATH = {"reassoc", "contract"}      # dot products and sums only; never nnan/ninf
LOG_WEIGHT_FLOOR = -1e300               # reference.weighting.LOG_WEIGHT_FLOOR
TINY = 2.2250738585072014e-308          # np.finfo(np.float64).tiny
# the methods run_replica knows (gpu.cpu_fused._method_code maps reference methods to them)
EXCESS_ADAGRAD, EXCESS_EXACT, GROUP_DRO, EQUAL_WEIGHTS = 0, 1, 2, 3


@intrinsic
def prefetch(typingctx, arr, index):
    """Ask the CPU to load the cache line of arr[index] (a 1-D array) ahead of its use: LLVM's
    prefetch intrinsic (read, keep in all cache levels, data). A hint: it changes no value, and
    does not fault on any address. While a block is being computed, the hardware prefetcher
    alone leaves memory idle; with this hint the next blocks arrive meanwhile."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(index, types.Integer)):
        return None
    sig = types.void(arr, index)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, signature.args[0], ary, [args[1]],
                                       wraparound=False)
        ptr = builder.bitcast(ptr, cgutils.voidptr_t)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [cgutils.voidptr_t], fnty=fnty)
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return sig, codegen


# ------------------------------------------------------------------ e^{−|z|} and log1p
@jit()
def exp_neg_block(z, e, bits, nk):
    """e[k] = exp(−|z[k]|) for k < nk (no fast-math: the reduction stays exact). ``bits`` is
    int64 scratch of the same length. NaN stays NaN; −∞ and anything below −746 give 0."""
    scale = bits.view(np.float64)
    for k in range(nk):
        x = -abs(z[k])
        if x < -746.0:                       # exp underflows to 0 below −745.13
            x = -746.0
        kf = math.floor(x * LOG2E + 0.5)
        r = (x - kf * LN2_HI) - kf * LN2_LO  # |r| <= ln2/2
        p = E13
        p = p * r + E12
        p = p * r + E11
        p = p * r + E10
        p = p * r + E9
        p = p * r + E8
        p = p * r + E7
        p = p * r + E6
        p = p * r + E5
        p = p * r + E4
        p = p * r + E3
        p = p * r + E2
        p = p * r + E1
        e[k] = p * r + E0
        ki = np.int64(kf) if kf == kf else np.int64(0)     # NaN: e[k] is NaN already
        bits[k] = (ki + 1077) << 52          # the bits of 2^(k+54), a normal number for k >= −1076
    for k in range(nk):
        e[k] = e[k] * scale[k] * TWO_M54     # 2^(k+54)·2^-54: one rounding into the subnormals


@jit()
def log1p_block(e, out, nk):
    """out[k] = log1p(e[k]) for e[k] ∈ [0, 1] (no fast-math): 2·atanh(e/(2+e)) by its series,
    written e·2h·p(s²), h = 1/(2+e), so that it is exact for subnormal e."""
    for k in range(nk):
        h = 1.0 / (2.0 + e[k])
        s = e[k] * h
        w = s * s
        p = L16
        p = p * w + L15
        p = p * w + L14
        p = p * w + L13
        p = p * w + L12
        p = p * w + L11
        p = p * w + L10
        p = p * w + L9
        p = p * w + L8
        p = p * w + L7
        p = p * w + L6
        p = p * w + L5
        p = p * w + L4
        p = p * w + L3
        p = p * w + L2
        p = p * w + L1
        p = p * w + L0
        out[k] = e[k] * (2.0 * h * p)


# ------------------------------------------------------------------ one pass over the rows
@jit(fastmath=FASTMATH)
def pair_rows(X, y, t, r0, r1, want_loss, g, zb, eb, rb, lb, bits):
    """Rows r0 <= k < r1 of one pair, X (n, d), y (n,), θ t (d,) float64: adds Σ_k r_k x_k to
    g (d,) and returns Σ_k loss_k (0.0 unless want_loss). zb, eb, rb, lb (float64) and bits
    (int64) are scratch of length BLOCK. Four rows at a time share each load of θ and each
    load and store of g; the rows AHEAD on are prefetched meanwhile."""
    d = X.shape[1]
    flat = X.reshape(-1)                     # X is C-contiguous
    line = max(1, 64 // X.itemsize)          # values per 64-byte cache line
    lacc = 0.0
    for k0 in range(r0, r1, BLOCK):
        nk = min(r1, k0 + BLOCK) - k0
        for q in range((k0 + AHEAD) * d, min(flat.shape[0], (k0 + AHEAD + nk) * d), line):
            prefetch(flat, q)                # the block AHEAD rows on, while this one computes
        k = 0
        while k + 4 <= nk:                   # z = Xθ for the block
            z0 = 0.0
            z1 = 0.0
            z2 = 0.0
            z3 = 0.0
            for j in range(d):
                tj = t[j]
                z0 += np.float64(X[k0 + k, j]) * tj
                z1 += np.float64(X[k0 + k + 1, j]) * tj
                z2 += np.float64(X[k0 + k + 2, j]) * tj
                z3 += np.float64(X[k0 + k + 3, j]) * tj
            zb[k] = z0
            zb[k + 1] = z1
            zb[k + 2] = z2
            zb[k + 3] = z3
            k += 4
        while k < nk:
            z = 0.0
            for j in range(d):
                z += np.float64(X[k0 + k, j]) * t[j]
            zb[k] = z
            k += 1
        exp_neg_block(zb, eb, bits, nk)
        for k in range(nk):                  # r = σ(z) − y, σ from e = e^{−|z|}
            inv = 1.0 / (1.0 + eb[k])
            s = inv if zb[k] >= 0.0 else eb[k] * inv
            rb[k] = s - np.float64(y[k0 + k])
        if want_loss:                        # max(z, 0) + log1p(e) − y z
            log1p_block(eb, lb, nk)
            for k in range(nk):
                z = zb[k]
                hinge = z if (z != z or z > 0.0) else 0.0
                lacc += hinge + lb[k] - np.float64(y[k0 + k]) * z
        k = 0
        while k + 4 <= nk:                   # g += Σ r_k x_k over the same rows, still in L1
            ra = rb[k]
            rb1 = rb[k + 1]
            rc = rb[k + 2]
            rd = rb[k + 3]
            for j in range(d):
                g[j] += (ra * np.float64(X[k0 + k, j]) + rb1 * np.float64(X[k0 + k + 1, j])) + \
                    (rc * np.float64(X[k0 + k + 2, j]) + rd * np.float64(X[k0 + k + 3, j]))
            k += 4
        while k < nk:
            r = rb[k]
            for j in range(d):
                g[j] += r * np.float64(X[k0 + k, j])
            k += 1
    return lacc


@jit(fastmath=FASTMATH)
def item_rows(X, y, th, n_chunks, want_loss, item, part_l, part_g):
    """Item ``item`` = (pair p, chunk c): its rows' loss sum and gradient sum, into part_l[item]
    and part_g[item] (zeroed)."""
    n = X.shape[1]
    chunk = (n + n_chunks - 1) // n_chunks
    p = item // n_chunks
    r0 = (item - p * n_chunks) * chunk
    r1 = min(n, r0 + chunk)
    if r0 < r1:
        zb = np.empty(BLOCK)
        eb = np.empty(BLOCK)
        rb = np.empty(BLOCK)
        lb = np.empty(BLOCK)
        bits = np.empty(BLOCK, dtype=np.int64)
        part_l[item] = pair_rows(X[p], y[p], th[p], r0, r1, want_loss, part_g[item], zb, eb,
                                 rb, lb, bits)


@jit(nogil=True)
def reduce_items(n, n_chunks, part_l, part_g, loss, grad):
    """loss[p], grad[p] = (Σ_c part[p, c]) / n, the chunks added in order c = 0, 1, …"""
    P, d = grad.shape
    inv_n = 1.0 / n
    for p in range(P):
        s = 0.0
        for j in range(d):
            grad[p, j] = 0.0
        for c in range(n_chunks):
            s += part_l[p * n_chunks + c]
            for j in range(d):
                grad[p, j] += part_g[p * n_chunks + c, j]
        loss[p] = s * inv_n
        for j in range(d):
            grad[p, j] *= inv_n


@jit(nogil=True, fastmath=FASTMATH)
def loss_grad_items(X, y, th, n_chunks, want_loss, i0, i1, part_l, part_g):
    """Items i0 <= item < i1 of ``loss_grad``, without the GIL (one task of the thread pool of
    ``gpu.cpu_fused``)."""
    for item in range(i0, i1):
        item_rows(X, y, th, n_chunks, want_loss, item, part_l, part_g)


# ------------------------------------------------------------------ a whole run per replica
@jit()
def nan_max(u):
    """np.max(u): NaN as soon as one entry is NaN."""
    mx = u[0]
    for i in range(1, u.shape[0]):
        if u[i] > mx or u[i] != u[i]:
            mx = u[i]
        if mx != mx:
            return mx
    return mx


@jit()
def log_update(la, step, u):
    """gpu.weighting._log_update in place: la + η(u − max u), shifted to max 0, floored."""
    mu = nan_max(u)
    for i in range(la.shape[0]):
        la[i] = la[i] + step * (u[i] - mu)
    mx = nan_max(la)
    for i in range(la.shape[0]):
        v = la[i] - mx
        la[i] = v if (v != v or v > LOG_WEIGHT_FLOOR) else LOG_WEIGHT_FLOOR


@jit()
def softmax_weights(la, official, alpha):
    """alpha = softmax(la), times m in the official convention (BatchedMethod.weights)."""
    m = la.shape[0]
    mx = nan_max(la)
    s = 0.0
    for i in range(m):
        alpha[i] = math.exp(la[i] - mx)
        s += alpha[i]
    for i in range(m):
        alpha[i] = alpha[i] / s
        if official:
            alpha[i] = alpha[i] * m


@jit(fastmath=FASTMATH)
def task_terms(X, y, theta, n_chunks, want_loss, l2, loss, g, gpart, zb, eb, rb, lb, bits):
    """ℓ_i(θ) (when want_loss) and ∇ℓ_i(θ) of every task of one replica, with the λ terms:
    the sums of ``loss_grad`` item for item, chunk for chunk."""
    m, n, d = X.shape
    chunk = (n + n_chunks - 1) // n_chunks
    inv_n = 1.0 / n
    reg = 0.0
    for j in range(d):
        reg += theta[j] * theta[j]
    reg = 0.5 * l2 * reg
    for i in range(m):
        s = 0.0
        for j in range(d):
            g[i, j] = 0.0
        for c in range(n_chunks):
            r0 = c * chunk
            r1 = min(n, r0 + chunk)
            for j in range(d):
                gpart[j] = 0.0
            part = 0.0
            if r0 < r1:
                part = pair_rows(X[i], y[i], theta, r0, r1, want_loss, gpart, zb, eb, rb, lb,
                                 bits)
            s += part
            for j in range(d):
                g[i, j] += gpart[j]
        loss[i] = s * inv_n + reg if want_loss else np.nan
        for j in range(d):
            g[i, j] = g[i, j] * inv_n + l2 * theta[j]


@jit()
def run_replica(X, y, theta0, lstar, etas, n_chunks, l2, center, radius, method, official,
                step_a, warmup, scale_processing, first_step_update, eps, baseline_eps,
                sqrt_accumulator, rec_thetas, rec_losses, rec_excess, rec_gnorms, rec_weights,
                rec_estimates, rec_combined, flags):
    """``gpu.run_batched`` for one replica (see ``gpu.cpu_fused.run_final``): T = len(etas)
    steps from θ_0 = theta0 (already projected), float64 throughout. Records at t = T only when
    the rec_* arrays have a time axis of length 1, at every t when it is T+1 (T for the per-step
    ones). flags[0] = 1 when the scale-processing baseline is 0 or subnormal."""
    m, n, d = X.shape
    T = etas.shape[0]
    full = rec_thetas.shape[0] > 1
    theta = theta0.copy()
    loss = np.empty(m)
    g = np.empty((m, d))
    gpart = np.empty(d)
    la = np.zeros(m)
    accum = np.zeros((m, d))
    warm = np.zeros(m)
    base = np.zeros(m)
    e = np.empty(m)
    ratio = np.empty(m)
    alpha = np.empty(m)
    direction = np.empty(d)
    zb = np.empty(BLOCK)
    eb = np.empty(BLOCK)
    rb = np.empty(BLOCK)
    lb = np.empty(BLOCK)
    bits = np.empty(BLOCK, dtype=np.int64)
    needs_losses = method == EXCESS_EXACT or method == GROUP_DRO
    W = max(1, warmup)
    for t in range(T + 1):
        record = full or t == T
        task_terms(X, y, theta, n_chunks, needs_losses or record, l2, loss, g, gpart, zb, eb,
                   rb, lb, bits)
        if record:
            r = t if full else 0
            for j in range(d):
                rec_thetas[r, j] = theta[j]
            for i in range(m):
                rec_losses[r, i] = loss[i]
                rec_excess[r, i] = loss[i] - lstar[i]
                s = 0.0
                for j in range(d):
                    s += g[i, j] * g[i, j]
                rec_gnorms[r, i] = math.sqrt(s)
        if t == T:
            break
        # the method: α_t from ℓ(θ_{t−1}), g, E (BatchedMethod.step)
        ts = t + 1
        has_estimate = True
        if method == EQUAL_WEIGHTS:
            has_estimate = False
        elif method == GROUP_DRO:
            for i in range(m):
                e[i] = loss[i]
            log_update(la, step_a, e)
        else:
            if method == EXCESS_EXACT:
                for i in range(m):
                    e[i] = loss[i] - lstar[i]
            else:                                            # AdaGrad
                for i in range(m):
                    s = 0.0
                    for j in range(d):
                        gij = g[i, j]
                        accum[i, j] = accum[i, j] + gij * gij
                        h = math.sqrt(accum[i, j] + eps) if sqrt_accumulator \
                            else accum[i, j] + eps
                        s += gij * gij / h
                    e[i] = s
            if not scale_processing:
                log_update(la, step_a, e)
            elif ts <= W:
                for i in range(m):
                    warm[i] = warm[i] + e[i]
                if ts == 1 and first_step_update:
                    log_update(la, step_a, e)
                if ts == W:
                    for i in range(m):
                        base[i] = warm[i] / ts
                        if base[i] + baseline_eps < TINY:
                            flags[0] = 1
            else:
                for i in range(m):
                    ratio[i] = e[i] / (base[i] + baseline_eps)
                log_update(la, step_a, ratio)
        softmax_weights(la, official, alpha)
        # θ_t = Π(θ_{t−1} − η_t Σ_i α_i g_i)
        for j in range(d):
            s = 0.0
            for i in range(m):
                s += alpha[i] * g[i, j]
            direction[j] = s
        if full or t == T - 1:
            w = t if full else 0
            asum = 0.0
            for i in range(m):
                rec_weights[w, i] = alpha[i]
                rec_estimates[w, i] = e[i] if has_estimate else np.nan
                asum += alpha[i]
            s = 0.0
            for j in range(d):
                s += direction[j] * direction[j]
            rec_combined[w] = math.sqrt(s) / asum
        for j in range(d):
            theta[j] = theta[j] - etas[t] * direction[j]
        if radius < np.inf:                  # c + δ·min(1, R/max(‖δ‖, 1e-300)), NaN kept
            s = 0.0
            for j in range(d):
                s += (theta[j] - center[j]) * (theta[j] - center[j])
            nrm = math.sqrt(s)
            q = radius / (nrm if (nrm != nrm or nrm > 1e-300) else 1e-300)
            shrink = q if (q != q or q < 1.0) else 1.0
            for j in range(d):
                theta[j] = center[j] + (theta[j] - center[j]) * shrink


@jit(nogil=True)
def run_replicas(b0, b1, X, y, theta0, lstar, etas, n_chunks, l2, center, radius, method,
                 official, step_a, warmup, scale_processing, first_step_update, eps, baseline_eps,
                 sqrt_accumulator, rec_thetas, rec_losses, rec_excess, rec_gnorms, rec_weights,
                 rec_estimates, rec_combined, flags):
    """``run_replica`` for the replicas b0 <= b < b1 (axis 0 of X, theta0, lstar, the rec_*
    arrays and flags), without the GIL: one task of the thread pool of ``gpu.cpu_fused``. The
    replicas are independent, so each one runs all its steps while its X_b is in cache."""
    for b in range(b0, b1):
        run_replica(X[b], y[b], theta0[b], lstar[b], etas, n_chunks, l2, center, radius, method,
                    official, step_a, warmup, scale_processing, first_step_update, eps,
                    baseline_eps, sqrt_accumulator, rec_thetas[b], rec_losses[b], rec_excess[b],
                    rec_gnorms[b], rec_weights[b], rec_estimates[b], rec_combined[b], flags[b])
