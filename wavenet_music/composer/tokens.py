"""Discrete tokens for the local-conditioning features: k-means vector quantisation.

The composer writes music as a sequence of tokens; WaveNet hears features. A ``Codebook``
maps between the two: frames are normalised with the WaveNet's own feature statistics
(so distances weigh each band as the model hears it), ``frames_per_token`` consecutive
frames are stacked into one vector, and each vector becomes the index of its nearest
centroid. Decoding a token gives back its centroid's frames in dB. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import UserError

ASSIGN_CHUNK = 8192  # vectors per distance matrix: bounds memory at chunk · k floats


def stack_frames(frames: np.ndarray, pool: int) -> np.ndarray:
    """(K, F) → (K // pool, pool · F): ``pool`` consecutive frames side by side; a
    trailing partial group is dropped."""
    n = len(frames) // pool
    return np.ascontiguousarray(frames[: n * pool]).reshape(n, pool * frames.shape[1])


def unstack_frames(vectors: np.ndarray, pool: int) -> np.ndarray:
    """(N, pool · F) → (N · pool, F): the inverse of ``stack_frames``."""
    return vectors.reshape(len(vectors) * pool, vectors.shape[1] // pool)


def squared_distances(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """(N, D), (k, D) → (N, k) squared Euclidean distances, ‖x‖² - 2 x·c + ‖c‖²."""
    cross = x @ centroids.T  # (N, k)
    d = (x * x).sum(axis=1)[:, None] - 2.0 * cross + (centroids * centroids).sum(axis=1)[None]
    return np.maximum(d, 0.0)


def nearest(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index (N,) of the nearest centroid of every row of ``x`` (N, D), in chunks."""
    out = np.empty(len(x), dtype=np.int64)
    for i in range(0, len(x), ASSIGN_CHUNK):
        out[i : i + ASSIGN_CHUNK] = squared_distances(x[i : i + ASSIGN_CHUNK], centroids).argmin(1)
    return out


def kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each next centroid drawn with
    probability proportional to its squared distance from the nearest one chosen so far."""
    centroids = np.empty((k, x.shape[1]), dtype=x.dtype)
    centroids[0] = x[rng.integers(len(x))]
    closest = squared_distances(x, centroids[:1])[:, 0]  # (N,)
    for j in range(1, k):
        total = closest.sum()
        pick = rng.integers(len(x)) if total <= 0 else rng.choice(len(x), p=closest / total)
        centroids[j] = x[pick]
        closest = np.minimum(closest, squared_distances(x, centroids[j : j + 1])[:, 0])
    return centroids


def kmeans(x: np.ndarray, k: int, iterations: int, seed: int) -> np.ndarray:
    """Lloyd's algorithm from k-means++ seeds: centroids (k, D). A cluster that empties
    is re-seeded with the vector farthest from its centroid."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) < k:
        raise ValueError(f"k-means: expected at least {k} vectors, got {len(x)}")
    rng = np.random.default_rng(seed)
    centroids = kmeans_plus_plus(x, k, rng)
    for _ in range(iterations):
        assignment = nearest(x, centroids)  # (N,)
        counts = np.bincount(assignment, minlength=k)  # (k,)
        sums = np.zeros_like(centroids, dtype=np.float64)
        np.add.at(sums, assignment, x)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centroids)
        for empty in np.flatnonzero(counts == 0):
            error = ((x - moved[assignment]) ** 2).sum(axis=1)  # (N,)
            moved[empty] = x[int(error.argmax())]
        if np.array_equal(moved.astype(np.float32), centroids):
            break
        centroids = moved.astype(np.float32)
    return centroids


@dataclass(frozen=True)
class Codebook:
    """Tokens ↔ features. ``centroids`` (k, pool · F) are in normalised units; ``mean`` and
    ``std`` (F,) are the WaveNet's feature statistics (dB)."""

    centroids: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    pool: int

    @property
    def size(self) -> int:
        return len(self.centroids)

    def vectors(self, features: np.ndarray) -> np.ndarray:
        """Features (K, F) in dB → normalised stacked vectors (K // pool, pool · F)."""
        normalised = (np.asarray(features, dtype=np.float32) - self.mean) / self.std
        return stack_frames(normalised, self.pool)

    def encode(self, features: np.ndarray) -> np.ndarray:
        """Features (K, F) in dB → tokens (K // pool,) int64."""
        return nearest(self.vectors(features), self.centroids)

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """Tokens (N,) → features (N · pool, F) in dB."""
        frames = unstack_frames(self.centroids[np.asarray(tokens)], self.pool)
        return (frames * self.std + self.mean).astype(np.float32)


def fit_codebook(
    features: list[np.ndarray],
    mean: np.ndarray,
    std: np.ndarray,
    size: int,
    pool: int,
    iterations: int = 30,
    seed: int = 0,
    max_vectors: int | None = 200_000,
) -> Codebook:
    """k-means codebook of ``size`` tokens over the frames of ``features`` (list of (K, F)
    in dB), each file stacked separately so a token never spans two files. At most
    ``max_vectors`` vectors (a seeded random subset) enter the fit."""
    empty = Codebook(np.zeros((0, pool * len(mean)), np.float32), mean, std, pool)
    vectors = np.concatenate([empty.vectors(f) for f in features])  # (N, pool · F)
    if max_vectors is not None and len(vectors) > max_vectors:
        keep = np.random.default_rng(seed).choice(len(vectors), max_vectors, replace=False)
        vectors = vectors[np.sort(keep)]
    if len(vectors) < size:
        raise UserError(
            f"{len(vectors)} tokens of training features, fewer than the {size} codebook "
            f"entries: pass --codebook-size {len(vectors) // 2} or less, or train on more music"
        )
    return Codebook(kmeans(vectors, size, iterations, seed), mean, std, pool)


def round_trip_db(features: np.ndarray, codebook: Codebook) -> float:
    """RMS error in dB of features (K, F) → tokens → features, over the whole frames that
    tokens cover: ``sqrt(mean((f - decode(encode(f)))²))``."""
    covered = len(features) // codebook.pool * codebook.pool
    decoded = codebook.decode(codebook.encode(features))  # (covered, F)
    error = np.asarray(features[:covered], dtype=np.float64) - decoded
    return float(np.sqrt(np.mean(error**2)))
