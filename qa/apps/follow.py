"""The index a long-running chat serves follows `qa index`: a rebuild while the
chat runs is picked up between questions, without a restart.

    >>> assistant = FollowsIndex(Assistant.load(settings))
    >>> assistant.ask("what is zometa?")   # answered from the newest build

The index folder's CURRENT names the live build. It is read at most every
`every_s` seconds (a question does no file I/O otherwise); when it names
another build, that build is loaded in a background thread while the old one
keeps answering, then swapped in. A build that fails to load is logged and the
old one kept: the chat never stops answering over a bad rebuild.
"""

from __future__ import annotations

import logging
import threading
import time

from qa.errors import QAError
from qa.index.store import current_build, load_index

log = logging.getLogger("qa.follow")
CHECK_EVERY_S = 5.0


class FollowsIndex:
    """An Assistant that switches to a rebuilt index; everything else is the assistant's."""

    def __init__(self, assistant, every_s: float = CHECK_EVERY_S, clock=time.monotonic) -> None:
        self._assistant = assistant
        self._serving = assistant.index.path
        self._every_s = every_s
        self._clock = clock
        self._checked = clock()
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self._failed = None  # the build that would not load: not tried again

    def __getattr__(self, name):
        return getattr(self._assistant, name)

    @property
    def serving(self):
        """The build folder now answering."""
        return self._serving

    def ask(self, question: str, history=()):
        self.check()
        return self._assistant.ask(question, history)

    def check(self, wait: bool = False) -> None:
        """Look at CURRENT if `every_s` has passed; start loading a new build.
        `wait`: return only once a load it started is done (for tests)."""
        now = self._clock()
        with self._lock:
            if now - self._checked < self._every_s or (self._loader is not None and self._loader.is_alive()):
                return
            self._checked = now
            try:
                build = current_build(self._assistant.settings.index_dir)
            except QAError as exc:
                log.warning("cannot read the index pointer (%s); still serving %s", exc, self._serving)
                return
            if build == self._serving or build == self._failed:
                return
            self._loader = threading.Thread(target=self._switch, args=(build,), daemon=True, name="qa-index-switch")
            self._loader.start()
            loader = self._loader
        if wait:
            loader.join()

    def _switch(self, build) -> None:
        old = self._assistant
        try:
            index = load_index(old.settings, old.embedder)
            fresh = old.replace(index=index)
            fresh.warm_up()
        except (QAError, OSError, ValueError) as exc:
            log.error("the rebuilt index %s could not be loaded (%s); still serving %s", build, exc, self._serving)
            self._failed = build
            return
        self._assistant, self._serving = fresh, index.path
        log.info("now serving the rebuilt index %s", index.path)
