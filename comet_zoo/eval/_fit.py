"""Three small NumPy solvers the disentanglement metrics need, so that neither
scikit-learn nor SciPy is a runtime dependency:

    max_assignment(score)        best one-to-one matching (Hungarian algorithm)
    SoftmaxClassifier            multinomial logistic regression, full-batch descent
    lasso(x, y, alpha)           L1-penalised least squares, coordinate descent

Each is tested against its scikit-learn / SciPy counterpart in tests/test_metrics.py.
"""

from __future__ import annotations

import numpy as np


def max_assignment(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the one-to-one matching of maximal total score.

    score [n, m] → (rows [min(n, m)], cols [min(n, m)]), rows ascending, like
    scipy.optimize.linear_sum_assignment(score, maximize=True).
    Shortest augmenting paths with row/column potentials (Kuhn–Munkres), O(n² m).
    """
    score = np.asarray(score, dtype=np.float64)
    transposed = score.shape[0] > score.shape[1]
    cost = -(score.T if transposed else score)          # minimise; [n, m] with n <= m
    n, m = cost.shape
    u = np.zeros(n + 1)                                 # row potentials (1-based, 0 unused)
    v = np.zeros(m + 1)                                 # column potentials; column 0 is a virtual start
    match = np.zeros(m + 1, dtype=np.int64)             # match[j] = row on column j, 0 = free
    way = np.zeros(m + 1, dtype=np.int64)               # previous column on the augmenting path
    for i in range(1, n + 1):
        match[0] = i
        j0 = 0
        best = np.full(m + 1, np.inf)                   # reduced cost of reaching each column
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = match[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]       # [m]
            better = free & (reduced < best[1:])
            best[1:][better] = reduced[better]
            way[1:][better] = j0
            masked = np.where(free, best[1:], np.inf)
            j1 = int(np.argmin(masked)) + 1
            delta = masked[j1 - 1]
            # Shift potentials so the tree's edges stay tight and j1 becomes reachable.
            u[match[used]] += delta
            v[used] -= delta
            best[~used] -= delta
            j0 = j1
            if match[j0] == 0:
                break
        while j0:                                       # flip the augmenting path
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
    cols = np.nonzero(match[1:])[0]
    rows = match[1:][cols] - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows)
    return rows[order], cols[order]


class SoftmaxClassifier:
    """Multinomial logistic regression on standardised features.

    Full-batch gradient descent on mean cross-entropy + l2/2 ‖W‖²; with
    standardised inputs the loss is smooth enough for a fixed step of 1.
    """

    def __init__(self, l2: float = 1e-3, steps: int = 500, lr: float = 1.0):
        self.l2, self.steps, self.lr = l2, steps, lr

    def fit(self, x: np.ndarray, y: np.ndarray) -> "SoftmaxClassifier":
        x = np.asarray(x, dtype=np.float64)             # [n, d]
        self.classes, y = np.unique(y, return_inverse=True)
        self.mean = x.mean(0)
        self.scale = x.std(0) + 1e-12                   # a constant feature stays 0 after scaling
        x = (x - self.mean) / self.scale
        n, d = x.shape
        c = len(self.classes)
        onehot = np.eye(c)[y]                           # [n, C]
        self.w = np.zeros((d, c))
        self.b = np.zeros(c)
        for _ in range(self.steps):
            p = _softmax(x @ self.w + self.b)           # [n, C]
            g = (p - onehot) / n
            self.w -= self.lr * (x.T @ g + self.l2 * self.w)
            self.b -= self.lr * g.sum(0)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return self.classes[np.argmax(x @ self.w + self.b, axis=1)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def lasso(x: np.ndarray, y: np.ndarray, alpha: float, sweeps: int = 1000, tol: float = 1e-7) -> np.ndarray:
    """Weights W [d, T] minimising 1/(2n) ‖Y − X W‖² + α ‖W‖₁, no intercept.

    x [n, d] and y [n, T] should be centred (the caller standardises them).
    Coordinate descent, all T targets at once (they share X, so one sweep over
    the d coordinates updates a whole row of W).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(len(x), -1)
    n, d = x.shape
    w = np.zeros((d, y.shape[1]))
    norms = (x * x).sum(0) / n                          # [d]
    residual = y.copy()                                 # Y − X W, [n, T]
    for _ in range(sweeps):
        largest = 0.0
        for j in range(d):
            if norms[j] == 0:
                continue
            rho = x[:, j] @ residual / n + norms[j] * w[j]          # [T]
            new = np.sign(rho) * np.maximum(np.abs(rho) - alpha, 0) / norms[j]
            step = new - w[j]
            if np.any(step):
                residual -= np.outer(x[:, j], step)
                w[j] = new
                largest = max(largest, float(np.abs(step).max()))
        if largest < tol:
            break
    return w
