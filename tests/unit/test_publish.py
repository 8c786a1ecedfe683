"""All-or-nothing publication: a staged folder replaces the published one whole, a failure leaves
the published one as it was, and a failed run marks it stale."""

import datetime as dt

import pytest

from census_pipeline.lib.publish import STALE_FILE, mark_stale, recover, staged_folder


def published(tmp_path):
    final = tmp_path / "bulletin"
    final.mkdir()
    (final / "b1_population.csv").write_text("old\n")
    (final / "bulletin.html").write_text("old\n")
    mark_stale(final, "run-failed-before", "a test")
    return final


def test_a_successful_publication_replaces_every_file_and_clears_stale(tmp_path):
    final = published(tmp_path)
    with staged_folder(final, "run-1") as folder:
        assert folder != final and not any(folder.iterdir())
        (folder / "b1_population.csv").write_text("new\n")
        assert (final / "b1_population.csv").read_text() == "old\n"  # nothing visible before the swap
    assert sorted(p.name for p in final.iterdir()) == ["b1_population.csv"]  # old html and STALE.txt gone
    assert (final / "b1_population.csv").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bulletin"]  # no staging or previous folder left


def test_a_failure_half_way_leaves_the_published_bulletin_untouched(tmp_path):
    final = published(tmp_path)
    before = {p.name: p.read_text() for p in final.iterdir()}
    with pytest.raises(TypeError), staged_folder(final, "run-2") as folder:
        (folder / "b1_population.csv").write_text("new\n")
        raise TypeError("the HTML step crashed")
    assert {p.name: p.read_text() for p in final.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bulletin"]


def test_first_publication_creates_the_folder(tmp_path):
    final = tmp_path / "out" / "bulletin"
    with staged_folder(final, "run-3") as folder:
        (folder / "x.csv").write_text("x\n")
    assert (final / "x.csv").exists()


def test_a_swap_cut_short_between_its_renames_is_recovered(tmp_path):
    final = published(tmp_path)
    final.rename(tmp_path / ".bulletin.previous-run-4")  # crashed after moving the old one aside
    (tmp_path / ".bulletin.staging-run-4").mkdir()
    recover(final)
    assert (final / "b1_population.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bulletin"]


def test_stale_note_names_the_failed_run_and_time(tmp_path):
    final = published(tmp_path)
    at = dt.datetime(2020, 11, 21, 3, 0, tzinfo=dt.UTC)
    note = mark_stale(final, "0b5c-failed-run", "failed blocking check microdata/persons", now=at)
    text = note.read_text()
    assert note == final / STALE_FILE
    assert "0b5c-failed-run" in text and "2020-11-21T03:00:00+00:00" in text and "microdata/persons" in text
    assert mark_stale(tmp_path / "never_published", "r", "x") is None
    assert not (tmp_path / "never_published").exists()
