"""Algorithms on tiny arrays, including the seed's worked examples with the ERRATA values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.algorithms import (
    ALGORITHMS,
    EASE,
    BasketCoPurchase,
    CategoryPopularity,
    ContentTfidf,
    FitContext,
    Hybrid,
    ImplicitALS,
    ImplicitBPR,
    ImplicitItemKNN,
    ItemKNN,
    MostPopular,
    RP3Beta,
    TrendingPopularity,
    UserKNN,
    cosine,
    interaction_matrix,
    pearson,
    top_k,
    user_based_cf,
)

# Two clusters: users 0-2 buy items 0-2, users 3-5 buy items 3-5; user 0 lacks item 2.
TINY = sp.csr_matrix(
    np.array(
        [
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [0, 0, 0, 1, 1, 1],
            [0, 0, 0, 1, 1, 1],
            [0, 0, 0, 1, 1, 0],
        ],
        dtype=np.float32,
    )
)


def test_pearson_seed_example_matches_errata():
    # ERRATA 4.1: mean(u) = 3.6, mean(v) = 3.4, Pearson = -1.2 / sqrt(5.2 * 5.2) = -0.2308
    value = pearson([4, 3, 2, 5, 4], [5, 4, 3, 2, 3])
    assert value == pytest.approx(-0.2308, abs=1e-4)
    assert value == pytest.approx(np.corrcoef([4, 3, 2, 5, 4], [5, 4, 3, 2, 3])[0, 1])


def test_pearson_constant_vector_is_zero():
    assert pearson([1, 1, 1], [1, 2, 3]) == 0.0


def test_cosine_of_orthogonal_vectors_is_zero():
    assert cosine([1, 0], [0, 1]) == 0.0
    assert cosine([1, 1], [2, 2]) == pytest.approx(1.0)


def test_user_based_cf_scores_items_skips_owned_and_returns_item_ids():
    # ERRATA 5.2.2: with 3 items the answer are item ids in 0..2, never the user's own items.
    ratings = np.array([[5, 0, 0], [4, 0, 3], [5, 1, 4], [1, 5, 0]])
    got = user_based_cf(ratings, 0, neighbours=2, similarity="cosine")
    assert set(got) == {1, 2}
    assert all(0 <= i < 3 for i in got)
    # the two nearest users (1 and 2) rate item 2 far above item 1
    assert got[0] == 2


def test_user_based_cf_never_uses_the_user_as_its_own_neighbour():
    ratings = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 1]])
    # user 1 is identical to user 0; if user 0 counted itself, nothing new would score
    got = user_based_cf(ratings, 0, neighbours=1, similarity="cosine")
    assert got[0] in {1, 2}
    assert 0 not in got


def test_interaction_matrix_weights_events_and_decays_with_time():
    day = 86400.0
    matrix = interaction_matrix(
        [0, 0, 1],
        [0, 1, 1],
        ["product_view", "purchase", "add_to_cart"],
        [10 * day, 10 * day, 0.0],
        shape=(2, 2),
        half_life_days=10,
        now=10 * day,
    )
    assert matrix[0, 0] == pytest.approx(1.0)
    assert matrix[0, 1] == pytest.approx(5.0)
    assert matrix[1, 1] == pytest.approx(1.5)  # cart 3.0 halved after one half-life


def test_interaction_matrix_custom_weights_and_unknown_types():
    matrix = interaction_matrix([0, 0], [0, 1], ["purchase", "page_view"], shape=(1, 2), weights={"purchase": 2.0})
    assert matrix[0, 0] == pytest.approx(2.0)
    assert matrix[0, 1] == 0.0


def test_top_k_orders_best_first_and_never_returns_excluded():
    scores = np.array([[0.1, 0.9, 0.5, 0.7]])
    ids, best = top_k(scores, 2, exclude=sp.csr_matrix([[0, 1, 0, 0]]))
    assert ids.tolist() == [[3, 2]]
    assert best.tolist() == [[0.7, 0.5]]


def test_top_k_pads_when_everything_is_excluded():
    ids, _ = top_k(np.array([[1.0, 2.0]]), 2, exclude=sp.csr_matrix([[1, 1]]))
    assert ids.tolist() == [[-1, -1]]


def test_most_popular_ranks_by_distinct_buyers():
    model = MostPopular().fit(TINY)
    ids, _ = model.recommend([0], k=3)
    assert ids[0].tolist() == [0, 1, 3]


def test_trending_prefers_recent_purchases():
    day = 86400.0
    last_seen = sp.csr_matrix(np.array([[100 * day, 0.0], [100 * day, 0.0], [0.0, 200 * day]]))
    matrix = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32))
    model = TrendingPopularity(half_life_days=7).fit(matrix, FitContext(last_seen=last_seen, now=200 * day))
    assert model.recommend([0], k=1)[0][0, 0] == 1


def test_category_popularity_recommends_inside_the_users_categories():
    model = CategoryPopularity().fit(TINY, FitContext(item_category=np.array([0, 0, 0, 1, 1, 1])))
    ids, _ = model.recommend([0], k=1, exclude=TINY[[0]])
    assert ids[0, 0] == 2


@pytest.mark.parametrize(
    "model",
    [
        ItemKNN(similarity="cosine", neighbours=3, shrinkage=0.0),
        ItemKNN(similarity="bm25", neighbours=3, shrinkage=1.0),
        UserKNN(similarity="cosine", neighbours=2),
        UserKNN(similarity="pearson", neighbours=2, shrinkage=1.0),
        EASE(l2=1.0),
        RP3Beta(alpha=1.0, beta=0.5),
        BasketCoPurchase(neighbours=5),
        ImplicitItemKNN(kind="bm25", neighbours=5),
    ],
    ids=lambda m: f"{m.name}-{getattr(m, 'similarity_kind', getattr(m, 'kind', ''))}",
)
def test_neighbourhood_models_complete_the_users_cluster(model):
    model.fit(TINY, FitContext(baskets=TINY))
    ids, _ = model.recommend([0, 5], k=1, exclude=TINY[[0, 5]])
    assert ids[:, 0].tolist() == [2, 5]


def test_item_knn_keeps_only_top_neighbours_and_shrinks():
    loose = ItemKNN(similarity="cosine", neighbours=1, shrinkage=0.0).fit(TINY)
    assert max(np.diff(loose.similarity.indptr)) == 1
    shrunk = ItemKNN(similarity="cosine", neighbours=5, shrinkage=100.0).fit(TINY)
    assert shrunk.similarity.max() < loose.similarity.max()


def test_item_knn_rejects_unknown_similarity():
    with pytest.raises(ValueError, match="cosine"):
        ItemKNN(similarity="jaccard")


def test_als_and_bpr_learn_the_clusters():
    bigger = sp.vstack([TINY] * 20).tocsr()
    for model in (ImplicitALS(factors=4, iterations=20, regularization=0.1), ImplicitBPR(factors=8, iterations=200)):
        model.fit(bigger)
        ids, _ = model.recommend([0], k=1, exclude=bigger[[0]])
        assert ids[0, 0] == 2, model.name


def test_content_tfidf_finds_textual_neighbours_for_cold_items():
    texts = ["red wooden toy train", "blue wooden toy train", "ceramic tea mug", "ceramic coffee mug"]
    matrix = sp.csr_matrix(np.array([[1, 0, 0, 0]], dtype=np.float32))  # nobody bought items 1-3
    model = ContentTfidf(neighbours=3).fit(matrix, FitContext(item_text=texts))
    assert model.similar_items(0, k=1)[0].tolist() == [1]
    assert model.similar_items(2, k=1)[0].tolist() == [3]
    ids, _ = model.recommend([0], k=1, exclude=matrix)
    assert ids[0, 0] == 1


def test_content_tfidf_requires_one_text_per_item():
    with pytest.raises(ValueError, match="one document per item"):
        ContentTfidf().fit(TINY, FitContext(item_text=["a"]))


def test_hybrid_blends_components_and_weights_recent_history():
    day = 86400.0
    # user 0 bought item 0 long ago and item 3 yesterday: the recent cluster should win.
    matrix = sp.vstack([TINY, sp.csr_matrix(np.array([[1, 0, 0, 1, 0, 0]], dtype=np.float32))]).tocsr()
    last = matrix.copy().astype(np.float64)
    last.data[:] = 100 * day
    last[6, 0] = 1 * day
    context = FitContext(last_seen=last.tocsr(), now=100 * day, baskets=matrix)
    model = Hybrid(
        components={"ease": (lambda: EASE(l2=1.0), 1.0), "pop": (MostPopular, 0.01)}, half_life_days=5.0
    ).fit(matrix, context)
    ids, _ = model.recommend([6], k=1, exclude=matrix[[6]])
    assert ids[0, 0] in {4, 5}


def test_every_registered_algorithm_fits_and_recommends_on_tiny_data():
    context = FitContext(baskets=TINY, item_text=[f"item {i}" for i in range(6)], item_category=np.zeros(6, int))
    for name, factory in ALGORITHMS.items():
        ids, scores = factory().fit(TINY, context).recommend([0, 3], k=2, exclude=TINY[[0, 3]])
        assert ids.shape == (2, 2), name
        assert not set(ids[0].tolist()) & {0, 1}, name


def test_repeat_purchase_ranks_often_and_recently_bought_items_first():
    from recommendations.algorithms import RepeatPurchase

    day = 86400.0
    matrix = sp.csr_matrix(np.array([[1, 1, 1, 0]], dtype=np.float32))
    counts = sp.csr_matrix(np.array([[5, 1, 1, 0]], dtype=np.float32))
    last = sp.csr_matrix(np.array([[10 * day, 100 * day, 1 * day, 0]]))
    model = RepeatPurchase(half_life_days=30, count_power=1.0).fit(
        matrix, FitContext(last_seen=last, now=100 * day, extra={"counts": counts})
    )
    ids, scores = model.recommend([0], k=4)
    assert ids[0, :3].tolist() == [1, 0, 2]  # recent single buy, then 5 buys 90 days ago, then old
    assert scores[0, 3] == 0.0  # never bought: no score from this component
