"""The comparison page and the list of changes waiting for review, through the app."""
from __future__ import annotations

import pytest
from versions_support import collect_second_version
from web_helpers import csrf_of


@pytest.fixture
def second(app, web_engine, world) -> int:
    return collect_second_version(web_engine, world)


def test_the_comparison_page_marks_the_word_and_the_inserted_page(client_for, world, second):
    page = client_for("qc").get(f"/documents/{world.documents['normal'][0].id}/compare?a=1&b=2").text
    assert '<del class="text-change">闷</del>' in page and '<ins class="text-change">痛</ins>' in page
    assert "新增第2页" in page and "共 2 处页面变化" in page
    assert 'id="keep-version"' in page  # v2 waits for review: the reviewer decides here


def test_the_pending_list_links_to_the_comparison_and_a_rejection_leaves_it(client_for, world, second):
    qc = client_for("qc")
    listing = qc.get("/versions/pending").text
    document = world.documents["normal"][0].id
    assert f"/documents/{document}/compare?a=1&amp;b=2" in listing
    answer = qc.post(f"/versions/{second}/reject",
                     data={"reason": "内容与归档版本冲突", "csrf_token": csrf_of(listing)})
    assert "已驳回第2版" in answer.text and "暂无" in answer.text
    assert "内容与归档版本冲突" in qc.get("/versions/pending?state=rejected").text
