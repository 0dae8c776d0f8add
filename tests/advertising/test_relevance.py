"""The relevance score, the floor / run-of-site rule and relevance-weighted eCPM (no database)."""

import math
from decimal import Decimal

import pytest

from advertising import relevance
from advertising.auction import AdSpec, CampaignSpec, Candidate, run_auction
from advertising.relevance import AdProduct, Idf, PageSignals, context_allows, match, stem, tokens, weight

R_CPC = Decimal("0.05")
R_CPM = Decimal("0.50")


def _ad(pid, category, title=""):
    return AdProduct(product_id=pid, category_id=category, title_tokens=tokens(title))


def test_tokens_lowercase_stem_plurals_and_drop_stop_words_and_numbers():
    assert tokens("LUNCH BAGS Red Retrospot") == {"lunch", "bag", "red", "retrospot"}
    assert tokens("Set of 3 Cake Tins") == {"cake", "tin"}
    assert stem("boxes") == "box" and stem("candies") == "candy" and stem("glass") == "glass"
    assert stem("hearts") == "heart" and stem("bus") == "bus"


def test_same_category_scores_one_recommender_lists_point_eight_others_zero():
    page = PageSignals(product_id=1, category_id=10, similar_ids=frozenset({5, 8}), together_ids=frozenset({6}))
    assert match(_ad(2, 10), page).score == 1.0  # same category
    assert match(_ad(5, 99), page).score == 0.8  # similar list, other category
    assert match(_ad(8, 10), page).score == 1.0  # both: the best signal counts
    found = match(_ad(6, 99), page)
    assert found.score == 0.8 and found.in_similar == "together"
    misfit = match(_ad(7, 99), page)
    assert misfit.score == 0.0 and misfit.same_category is False and misfit.in_similar == ""
    assert misfit.features() == {"same_category": "0", "in_similar": "none", "query_overlap": ""}


def test_query_overlap_is_the_idf_weighted_share_of_search_words_in_the_title():
    idf = Idf(["Lunch Bag Red", "Red Heart T-Light Holder", "Red Spotty Cup", "Jumbo Bag Pink"])
    page = PageSignals(query_tokens=tokens("red lunch bag"))
    bag = match(_ad(1, 4, "Lunch Bag Red Retrospot"), page, idf)
    candle = match(_ad(2, 2, "Red Heart T-Light Holder"), page, idf)
    assert bag.score == pytest.approx(1.0) and bag.features()["query_overlap"] == "all"
    # "red" is in 3 of 4 titles: it weighs least, so the candle's share stays below the floor
    assert 0 < candle.score < relevance.DEFAULT_FLOOR
    assert candle.features()["query_overlap"] == "low"
    # hand-computed: idf(w) = ln((1 + 4) / (1 + df)) + 1; red df=3, lunch df=1, bag df=2
    red, lunch, bag_w = math.log(5 / 4) + 1, math.log(5 / 2) + 1, math.log(5 / 3) + 1
    assert (idf("red"), idf("lunch"), idf("bag")) == pytest.approx((red, lunch, bag_w))
    assert candle.score == pytest.approx(red / (red + lunch + bag_w))  # 0.263


def test_no_context_means_no_score_and_full_weight():
    found = match(_ad(1, 4, "Lunch Bag"), PageSignals())
    assert found.score is None and found.features() == {"same_category": "", "in_similar": "", "query_overlap": ""}
    assert weight(None) == 1.0
    assert context_allows(None, floor=0.35, run_of_site=False, audience_targeted=False)


def test_cart_categories_count_where_the_page_says_nothing():
    page = PageSignals(cart_category_ids=frozenset({4}))
    assert match(_ad(1, 4), page).score == relevance.CART_CATEGORY_SCORE
    assert match(_ad(2, 5), page).score == 0.0


def test_weight_is_a_quarter_plus_three_quarters_of_relevance():
    assert weight(0.0) == 0.25 and weight(1.0) == 1.0 and weight(0.5) == pytest.approx(0.625)
    assert weight(7.0) == 1.0 and weight(-1.0) == 0.25  # clamped


@pytest.mark.parametrize(
    ("score", "run_of_site", "targeted", "allowed"),
    [
        (0.35, False, False, True),  # at the floor
        (0.34, False, False, False),  # below: an empty slot beats an irrelevant ad
        (0.0, True, False, True),  # run-of-site opt-in
        (0.0, False, True, True),  # aimed at the shopper's interest
        (None, False, False, True),  # no context on the page
    ],
)
def test_floor_and_run_of_site(score, run_of_site, targeted, allowed):
    assert context_allows(score, floor=0.35, run_of_site=run_of_site, audience_targeted=targeted) is allowed


def _campaign(cid, bid, bid_type="cpc", **kw):
    return CampaignSpec(
        id=cid,
        bid_type=bid_type,
        bid=Decimal(bid),
        daily_budget=Decimal("100"),
        total_budget=Decimal("1000"),
        spend_total=Decimal("0"),
        spend_today=Decimal("0"),
        **kw,
    )


def _cand(cid, bid, pctr, rel, bid_type="cpc"):
    ad = AdSpec(id=cid * 10, campaign=_campaign(cid, bid, bid_type), product_id=cid)
    return Candidate(ad=ad, pctr=pctr, relevance_weight=weight(rel))


def test_audience_targeted_campaigns_are_retargeting_interest_or_lookalike():
    assert not _campaign(1, "1").audience_targeted
    assert not _campaign(1, "1", min_age=30, segments=frozenset({"vip"})).audience_targeted
    assert _campaign(1, "1", retarget="viewed").audience_targeted
    assert _campaign(1, "1", interest_category_ids=frozenset({3})).audience_targeted
    assert _campaign(1, "1", lookalike_min_score=0.5).audience_targeted


def test_ecpm_is_bid_times_pctr_times_relevance_weight():
    # A: 2.00 x 0.05 x weight(0.2)=0.40 -> eCPM 40; B: 1.00 x 0.06 x weight(1)=1 -> eCPM 60
    a, b = _cand(1, "2.00", 0.05, 0.2), _cand(2, "1.00", 0.06, 1.0)
    assert a.ecpm == Decimal("40.000") and b.ecpm == Decimal("60.00")
    # CPM: 4.00 per mille x weight(0.6)=0.70 -> eCPM 2.80
    assert _cand(3, "4.00", 0.01, 0.6, "cpm").ecpm == Decimal("2.8000")
    # without the weight A (eCPM 100) would beat B (60); with it the relevant ad wins
    winners = run_auction([a, b], n_slots=2, reserve_cpc=R_CPC, reserve_cpm=R_CPM)
    assert [w.ad.campaign.id for w in winners] == [2, 1]
    # B pays the least bid keeping its weighted value above A's: 0.040 / (0.06 x 1) = 0.667 -> 0.67
    assert winners[0].price == Decimal("0.67")
    # A, last, pays the reserve
    assert winners[1].price == R_CPC


def test_gsp_price_divides_by_the_winners_weight():
    # A: 1.00 x 0.10 x weight(0.6)=0.70 -> value 0.070; B: 1.00 x 0.05 x 1 -> 0.050
    a, b = _cand(1, "1.00", 0.10, 0.6), _cand(2, "1.00", 0.05, 1.0)
    winners = run_auction([a, b], n_slots=1, reserve_cpc=R_CPC, reserve_cpm=R_CPM)
    # A pays 0.050 / (0.10 x 0.70) = 0.7143 -> 0.72 (rounded up), below its bid of 1.00
    assert winners[0].ad.campaign.id == 1 and winners[0].price == Decimal("0.72")
    # CPM winner: 5.00 x weight(0.2)=0.40 -> value 0.002; runner-up CPC 0.10 x 0.01 -> 0.001
    c, d = _cand(3, "5.00", 0.01, 0.2, "cpm"), _cand(4, "0.10", 0.01, 1.0)
    winners = run_auction([c, d], n_slots=1, reserve_cpc=R_CPC, reserve_cpm=R_CPM)
    # pays 0.001 x 1000 / 0.40 = 2.50 per mille
    assert winners[0].ad.campaign.id == 3 and winners[0].price == Decimal("2.50")


def test_weight_one_keeps_the_plain_gsp_prices():
    a, b = _cand(1, "2.00", 0.05, None), _cand(2, "1.00", 0.08, None)
    winners = run_auction([a, b], n_slots=1, reserve_cpc=R_CPC, reserve_cpm=R_CPM)
    assert winners[0].price == Decimal("1.60")  # 0.080 / 0.05, as without relevance
