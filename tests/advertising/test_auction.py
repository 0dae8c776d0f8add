"""The auction's rules with hand-computed prices (no database)."""

from decimal import Decimal

from advertising.auction import (
    AdSpec,
    CampaignSpec,
    Candidate,
    ShopperContext,
    caps_allow,
    eligible,
    pacing_allows,
    run_auction,
    smoothed_ctr,
    targeting_matches,
)

R_CPC = Decimal("0.05")
R_CPM = Decimal("0.50")


def _campaign(cid, bid, bid_type="cpc", **kw):
    base = {
        "id": cid,
        "bid_type": bid_type,
        "bid": Decimal(bid),
        "daily_budget": Decimal("100"),
        "total_budget": Decimal("1000"),
        "spend_total": Decimal("0"),
        "spend_today": Decimal("0"),
    }
    base.update(kw)
    return CampaignSpec(**base)


def _cand(cid, bid, pctr, bid_type="cpc", **kw):
    return Candidate(ad=AdSpec(id=cid * 10, campaign=_campaign(cid, bid, bid_type, **kw), product_id=None), pctr=pctr)


def test_run_auction_gsp_prices_hand_computed():
    # given values: A 2.00*0.05=0.100, B 1.00*0.08=0.080, C 0.50*0.10=0.050
    a, b, c = _cand(1, "2.00", 0.05), _cand(2, "1.00", 0.08), _cand(3, "0.50", 0.10)
    # when two slots are sold
    winners = run_auction([c, b, a], n_slots=2, reserve_cpc=R_CPC, reserve_cpm=R_CPM)
    # then A pays 0.080/0.05 = 1.60, B pays 0.050/0.08 = 0.625 -> rounded up to 0.63
    assert [w.ad.campaign.id for w in winners] == [1, 2]
    assert winners[0].price == Decimal("1.60")
    assert winners[1].price == Decimal("0.63")


def test_run_auction_price_never_above_bid_and_last_pays_reserve():
    # a single bidder has nobody below: pays the reserve
    winners = run_auction([_cand(1, "2.00", 0.05)], n_slots=2, reserve_cpc=R_CPC, reserve_cpm=R_CPM)
    assert winners[0].price == R_CPC
    # B's needed price 0.0999/0.05 = 1.998 rounds to 2.00, never above A's own bid of 2.00
    a, b = _cand(1, "2.00", 0.05), _cand(2, "0.999", 0.1)
    winners = run_auction([a, b], n_slots=1, reserve_cpc=R_CPC, reserve_cpm=R_CPM)
    assert winners[0].ad.campaign.id == 1 and winners[0].price == Decimal("2.00")


def test_run_auction_mixes_cpm_and_cpc_by_value():
    # CPM 3.00 -> 0.003 per impression; CPC 0.10 * 0.02 = 0.002 per impression
    cpm, cpc = _cand(1, "3.00", 0.01, "cpm"), _cand(2, "0.10", 0.02)
    winners = run_auction([cpc, cpm], n_slots=2, reserve_cpc=R_CPC, reserve_cpm=R_CPM)
    assert [w.ad.campaign.id for w in winners] == [1, 2]
    # CPM winner pays 0.002 * 1000 = 2.00 per mille; CPC runner-up pays the reserve 0.05
    assert winners[0].price == Decimal("2.00")
    assert winners[1].price == Decimal("0.05")


def test_run_auction_one_ad_per_campaign_and_deterministic_ties():
    camp = _campaign(1, "1.00")
    ads = [
        Candidate(AdSpec(id=11, campaign=camp, product_id=None), 0.05),
        Candidate(AdSpec(id=12, campaign=camp, product_id=None), 0.06),
    ]
    other = _cand(2, "1.00", 0.05)
    winners = run_auction([*ads, other], n_slots=3, reserve_cpc=R_CPC, reserve_cpm=R_CPM)
    assert [w.ad.id for w in winners] == [12, 20]


def test_targeting_matches_each_rule():
    camp = _campaign(1, "1", min_age=25, max_age=34, genders=frozenset({"f"}), countries=frozenset({"France"}))
    assert targeting_matches(camp, ShopperContext(age=30, gender="f", country="france"))
    assert not targeting_matches(camp, ShopperContext(age=40, gender="f", country="France"))
    assert not targeting_matches(camp, ShopperContext(age=None, gender="f", country="France"))
    assert not targeting_matches(camp, ShopperContext(age=30, gender="m", country="France"))
    seg = _campaign(2, "1", segments=frozenset({"vip"}))
    assert targeting_matches(seg, ShopperContext(segments=frozenset({"vip", "x"})))
    assert not targeting_matches(seg, ShopperContext())
    retarget = _campaign(3, "1", retarget="carted", retarget_days=7, retarget_product_ids=frozenset({5}))
    assert targeting_matches(retarget, ShopperContext(carted_product_days={5: 6}))
    assert not targeting_matches(retarget, ShopperContext(carted_product_days={5: 8}))
    assert not targeting_matches(retarget, ShopperContext(viewed_product_days={5: 1}))
    look = _campaign(4, "1", lookalike_min_score=0.6)
    assert targeting_matches(look, ShopperContext(audience_scores={4: 0.7}))
    assert not targeting_matches(look, ShopperContext(audience_scores={4: 0.5}))


def test_caps_and_pacing_and_budget_in_eligibility():
    capped = _campaign(1, "1", cap_per_user_day=2, cap_per_session=1)
    assert caps_allow(capped, ShopperContext(shown_today={1: 1}))
    assert not caps_allow(capped, ShopperContext(shown_today={1: 2}))
    assert not caps_allow(capped, ShopperContext(shown_in_session={1: 1}))
    # 30 of 100 spent at 06:00 (25% of the day + 5% slack = 30): held back; at noon allowed
    ahead = _campaign(2, "1", spend_today=Decimal("30"))
    assert not pacing_allows(ahead, 0.25)
    assert pacing_allows(ahead, 0.5)
    broke = _campaign(3, "1", spend_total=Decimal("999.99"))
    out_of_stock = AdSpec(id=40, campaign=_campaign(4, "1"), product_id=1, product_sellable=False)
    below_reserve = AdSpec(id=50, campaign=_campaign(5, "0.01"), product_id=None)
    ok = AdSpec(id=60, campaign=_campaign(6, "1"), product_id=None)
    ads = [AdSpec(id=30, campaign=broke, product_id=None), out_of_stock, below_reserve, ok]
    kept = eligible(ads, ShopperContext(), reserve_cpc=R_CPC, reserve_cpm=R_CPM, day_fraction=0.5)
    assert [a.id for a in kept] == [60]


def test_smoothed_ctr_moves_from_prior_to_history():
    assert smoothed_ctr(0, 0, prior=0.02) == 0.02
    assert smoothed_ctr(100, 1000, prior=0.02, strength=200) == (100 + 4) / 1200
