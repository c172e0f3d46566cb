"""qa/apps/follow.py: a chat that runs while `qa index` rebuilds switches to the new build."""

from conftest import FakeEmbedder

from qa.index.store import CURRENT, build_index


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_app_notices_a_rebuilt_index(fake_assistant, tiny_settings):
    from qa.apps.follow import FollowsIndex

    clock = Clock()
    assistant = FollowsIndex(fake_assistant, every_s=5.0, clock=clock)
    old = assistant.serving
    assert "skeleton" not in " ".join(u.text for u in assistant.ask("what does the new leaflet say about the skeleton?").units)
    doc = tiny_settings.corpus_dir / "new.txt"
    doc.write_text("Skeleton Care\n\nThe skeleton is renewed by bone cells all through life.\n", encoding="utf-8")
    build_index(tiny_settings, FakeEmbedder(), progress=False)  # what `qa index` does
    assistant.check(wait=True)
    assert assistant.serving == old  # CURRENT is read at most every 5 s
    clock.now = 6.0
    assistant.check(wait=True)
    assert assistant.serving != old and assistant.serving.name == (tiny_settings.index_dir / CURRENT).read_text().strip()
    assert "renewed by bone cells" in " ".join(u.text for u in assistant.ask("what renews the skeleton through life?").units)


def test_a_damaged_rebuild_keeps_the_old_index_answering(fake_assistant, tiny_settings, caplog):
    from qa.apps.follow import FollowsIndex

    clock = Clock()
    assistant = FollowsIndex(fake_assistant, every_s=1.0, clock=clock)
    old = assistant.serving
    (tiny_settings.corpus_dir / "new.txt").write_text("Skeleton Care\n\nThe skeleton is renewed all through life.\n", encoding="utf-8")
    build_index(tiny_settings, FakeEmbedder(), progress=False)
    new_build = tiny_settings.index_dir / (tiny_settings.index_dir / CURRENT).read_text().strip()
    (new_build / "manifest.json").write_text("{", encoding="utf-8")
    clock.now = 2.0
    assistant.check(wait=True)
    assert assistant.serving == old and "could not be loaded" in caplog.text
    assert "Zometa is a bisphosphonate" in " ".join(u.text for u in assistant.ask("what is zometa?").units)
    clock.now = 4.0
    caplog.clear()
    assistant.check(wait=True)  # the same bad build is not tried again
    assert "could not be loaded" not in caplog.text
