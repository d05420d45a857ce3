"""Explore a dataset: embeddings on a 2-D map (PCA), KMeans topic clusters named by
their top TF-IDF terms (or by the judge model), cluster sizes, and a plotly map. (The length and score
histograms are drawn by session.Session.histograms.)

Clustering uses the Clusters step's settings, so dropping a cluster here and re-running the recipe removes
exactly the rows that were shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lab.data.embed import embed
from lab.data.recipe import EMBED_MODEL


@dataclass
class Exploration:
    labels: np.ndarray  # cluster of each explored row
    xy: np.ndarray  # 2-D position of each explored row
    method: str  # how the map was drawn: "PCA"
    names: dict[int, str]  # cluster -> label
    texts: list[str] = field(repr=False)

    def sizes(self) -> list[list]:
        """[cluster, label, rows, share %] per cluster, largest first."""
        ids, counts = np.unique(self.labels, return_counts=True)
        total = max(1, len(self.labels))
        rows = [[int(c), self.names.get(int(c), ""), int(n), round(100 * n / total, 1)] for c, n in zip(ids, counts)]
        return sorted(rows, key=lambda r: -r[2])

    def members(self, cluster: int) -> np.ndarray:
        """Positions (within the explored rows) of one cluster's rows."""
        return np.flatnonzero(self.labels == cluster)


def clusters(vectors: np.ndarray, k: int, seed: int, method: str = "kmeans") -> np.ndarray:
    """A cluster per row; deterministic for the same vectors and settings."""
    from sklearn.cluster import HDBSCAN, KMeans  # heavy: sklearn

    if method == "hdbscan" and len(vectors) >= 4:
        size = max(2, len(vectors) // (4 * k))
        return HDBSCAN(min_cluster_size=size, copy=True).fit_predict(vectors).astype(np.int64)
    k = max(1, min(k, len(vectors)))
    if k == 1:
        return np.zeros(len(vectors), dtype=np.int64)
    return KMeans(n_clusters=k, random_state=seed, n_init=3).fit_predict(vectors).astype(np.int64)


def project(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """The rows on a plane: PCA of the embeddings (scikit-learn; the same map on every install). The lab does
    not install umap-learn (and numba), so the map is never UMAP."""
    if len(vectors) < 3:
        return np.zeros((len(vectors), 2)), "PCA"
    from sklearn.decomposition import PCA  # heavy: sklearn

    return PCA(n_components=2, random_state=seed).fit_transform(vectors), "PCA"


def tfidf_names(texts: list[str], labels: np.ndarray, top: int = 3) -> dict[int, str]:
    """Each cluster's most distinctive terms."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # heavy: sklearn

    try:
        matrix = TfidfVectorizer(stop_words="english", max_features=20000, ngram_range=(1, 2),
                                 min_df=1).fit(texts)
    except ValueError:  # only stop words
        return {int(c): "" for c in np.unique(labels)}
    tf = matrix.transform(texts)
    vocab = np.array(matrix.get_feature_names_out())
    names = {}
    for c in np.unique(labels):
        mean = np.asarray(tf[labels == c].mean(axis=0)).ravel()
        names[int(c)] = ", ".join(vocab[np.argsort(-mean)[:top]])
    return names


def judge_names(texts: list[str], labels: np.ndarray, judge, per_cluster: int = 5) -> dict[int, str]:
    """Each cluster named by the judge model from a few of its rows."""
    names = {}
    for c in np.unique(labels):
        sample = "\n".join(f"- {texts[i][:200]}" for i in np.flatnonzero(labels == c)[:per_cluster])
        reply = judge([f"Give a 2-5 word topic label for these requests. Reply with the label only.\n{sample}"])[0]
        names[int(c)] = reply.strip().splitlines()[0][:60] if reply.strip() else ""
    return names


def explore(texts: list[str], k: int = 8, seed: int = 0, model: str | None = None, judge=None,
            progress=None, method: str = "kmeans", token: str | None = None) -> Exploration:
    vectors = embed(texts, model or EMBED_MODEL, progress=progress, token=token)
    labels = clusters(vectors, k, seed, method)
    xy, drawn = project(vectors, seed)
    names = judge_names(texts, labels, judge) if judge is not None else tfidf_names(texts, labels)
    return Exploration(labels, xy, drawn, names, texts)


def map_figure(ex: Exploration):
    import plotly.graph_objects as go  # heavy: plotly

    fig = go.Figure()
    for c in np.unique(ex.labels):
        idx = ex.members(int(c))
        fig.add_trace(go.Scattergl(x=ex.xy[idx, 0], y=ex.xy[idx, 1], mode="markers", marker={"size": 5},
                                   name=f"{c}: {ex.names.get(int(c), '')}"[:40],
                                   text=[ex.texts[i][:160] for i in idx], hoverinfo="text"))
    fig.update_layout(title=f"Topic map ({ex.method} of the embeddings)", height=480, margin={"t": 40})
    return fig


def word_counts(texts: list[str]) -> np.ndarray:
    return np.array([len(t.split()) for t in texts])
