"""The communiqué as an office prints it: bulletin.html printed to PDF by headless Chromium (A4,
the page's own print styles), read back page by page with pdftotext."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.builders import CHROMIUM_FLAGS, bulletin_folder, chromium, debian_tool

SECTIONS = ["一、常住人口", "二、户别人口", "三、性别构成", "四、年龄构成", "五、受教育程度", "六、民族构成",
            "七、人户分离与流动人口", "八、城乡人口", "九、港澳台居民和外籍人员", "十、乡镇街道人口",
            "十一、长表抽样数据", "十二、普查登记质量"]


@pytest.fixture(scope="module")
def pages(built, tmp_path_factory) -> list[list[str]]:
    """The printed bulletin: per page, its non-blank lines."""
    html = bulletin_folder(built) / "bulletin.html"
    folder = tmp_path_factory.mktemp("print")
    pdf = folder / "bulletin.pdf"
    subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={folder / 'chromium'}", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", html.as_uri()], check=True, capture_output=True, timeout=120)
    text = subprocess.run([debian_tool("pdftotext", "poppler-utils"), "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True, timeout=120).stdout
    return [[line.strip() for line in page.splitlines() if line.strip()] for page in text.split("\f")
            if page.strip()]


def test_every_section_starts_a_page_with_its_content(pages):
    assert SECTIONS[0] in pages[0][:4]  # the first section follows the title on the title page
    starts = {page[0]: page for page in pages}
    for heading in SECTIONS[1:]:
        assert heading in starts, (heading, [p[0] for p in pages])
        assert len(starts[heading]) >= 2, f"{heading} is alone on its page"
    # a heading never ends a page (orphaned from what follows it)
    for page in pages:
        assert page[-1] not in SECTIONS, page[-1]


def test_the_coverage_section_and_its_chart_fit_one_page(pages):
    page = next(p for p in pages if p[0] == "十二、普查登记质量")
    assert any("净漏登率为" in line for line in page)
    assert any(line.startswith("图6") for line in page), "the interval chart moved off the section's page"
    assert any(re.search(r"\d%$", line) for line in page)  # the chart's axis, in per cent


def test_the_bulletin_prints_on_a_page_count_an_office_expects(pages):
    # one page per section at least (each starts a page); a few more for the long tables
    assert len(SECTIONS) + 1 <= len(pages) <= len(SECTIONS) + 6, len(pages)
    assert pages[0][0].endswith("主要数据公报")
    assert pages[-1][0] == "注释"
