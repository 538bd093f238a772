"""Text typed into a field before Flutter listens to it is kept (web target).

Why text was lost (seen with Playwright on Chromium, flet-web 0.82.2; the server took no
part: between the view's patch and the lost text it sent nothing and received nothing):

- With semantics on, each text field is a real ``<input>`` in Flutter's semantics tree.
  Focusing it (a click, a password manager, Playwright's ``fill``) only *asks* the
  framework for focus. The engine subscribes to the element's ``input`` and ``keydown``
  events, and writes the framework's text into it, on the next semantics update, a
  frame later (tens to hundreds of ms on a slow machine, and the first frames after a
  view change are the slowest).
- Whatever arrives in between is dropped, and the engine's write then empties the field
  on screen: a fill followed at once by Enter sent an empty password (or no submit at
  all), and keys typed right after a click lost their first letters.

The script below, put into the dashboard's ``index.html``, notes what is typed into a
semantics text field while the engine does not listen to it (the last value, and an
Enter), and gives it to the engine once it does: it puts the value back after the
engine's write and repeats the ``input`` event, then the Enter. What the user does next
before that (a click on the button, the next field's focus, a key: a password manager
fills the fields and submits at once) is held back and handed on after it, in order, so
the server sees the text before the click. A field the engine already listens to is left
alone, so nothing is ever sent twice. Holding back is limited to 5 s per field (a field
the framework never focuses must not swallow the next click); the text itself is kept
until the engine takes the field, however slow the machine, and an Enter for 10 s.

Flutter moves the focus on Tab itself, also one frame later: keys typed within that
frame still land in the field being left. That is not covered here (a person sees the
caret move first).

Pinned by ``tests/browser/test_typing.py``, which types at 20 ms per key and fills and
submits at once right after a view change; the browser tests fill forms and click at
once throughout.
"""

from __future__ import annotations

import functools
from typing import Any

from flet_web.fastapi import flet_static_files

PATCHED_MARK = "_aegis_keeps_early_typing"
HEAD_END = "</head>"

EARLY_TYPING_SCRIPT = """<script>
/* Aegis: keep text typed before Flutter listens to a field (aegis_app/launch/early_typing.py). */
(() => {
  const isField = (el) =>
    (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) &&
    el.dataset.semanticsRole === "text-field";
  const listening = new WeakMap();
  const unheard = new Map(); /* field -> {value, enter}: typed while the engine was deaf */
  const due = new Map(); /* the same, once the engine listens: given to it right after */
  const held = []; /* later events, each kept back until the fields typed in before it
                       were heard */
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  window.aegisEarlyTyping = { replayed: 0, held: 0 };
  const HOLD_MS = 5000; /* the longest a field's unheard text holds later events back */
  const ENTER_MS = 10000; /* an Enter older than this is not replayed: no surprise submit */
  const holding = (field) =>
    (unheard.has(field) && performance.now() - unheard.get(field).since < HOLD_MS) ||
    due.has(field);
  const release = () => {
    while (held.length && ![...held[0].before].some(holding)) {
      const { target, event } = held.shift();
      target.dispatchEvent(event);
    }
  };
  const flush = (field) => {
    const typed = due.get(field);
    if (!typed) return;
    due.delete(field);
    if (field.isConnected) {
      window.aegisEarlyTyping.replayed += 1;
      if (typed.value !== null) {
        if (field.value !== typed.value) field.value = typed.value;
        field.dispatchEvent(new Event("input", { bubbles: true }));
      }
      if (typed.enter && performance.now() - typed.since < ENTER_MS) {
        field.dispatchEvent(new KeyboardEvent("keydown", {
          key: "Enter", code: "Enter", keyCode: 13, which: 13, bubbles: true, cancelable: true,
        }));
      }
    }
    release();
  };
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    add.call(this, type, listener, options);
    if (type === "input" && isField(this)) {
      listening.set(this, (listening.get(this) ?? 0) + 1);
      const typed = unheard.get(this);
      if (typed) {
        unheard.delete(this);
        /* After the engine's write of the framework's text, in the same task, and
           before anything else reaches the engine. */
        due.set(this, typed);
        queueMicrotask(() => flush(this));
      }
    }
  };
  EventTarget.prototype.removeEventListener = function (type, listener, options) {
    remove.call(this, type, listener, options);
    if (type === "input" && isField(this)) {
      listening.set(this, Math.max(0, (listening.get(this) ?? 0) - 1));
    }
  };
  const note = (field, change) => {
    for (const gone of unheard.keys()) if (!gone.isConnected) unheard.delete(gone);
    if (!unheard.has(field)) {
      unheard.set(field, { value: null, enter: false, since: performance.now() });
      /* A field the engine never takes (the framework did not focus it) holds
         nothing back for long; its text stays kept for when the engine takes it. */
      setTimeout(release, HOLD_MS + 1);
    }
    change(unheard.get(field));
  };
  const hold = (event) => {
    /* Something else happens while a field's text has not reached the engine (a click,
       the next field, a key): it reaches the engine after that text, as it came. */
    if (!event.isTrusted) return; /* one of ours, released */
    const before = new Set([...unheard.keys(), ...due.keys()].filter(holding));
    before.delete(event.target);
    if (!before.size && !held.length) return;
    event.stopImmediatePropagation();
    event.preventDefault();
    held.push({ target: event.target, event: new event.constructor(event.type, event), before });
    window.aegisEarlyTyping.held += 1;
  };
  for (const type of ["pointerdown", "pointerup", "mousedown", "mouseup", "click", "focus"]) {
    addEventListener(type, hold, true);
  }
  addEventListener("keydown", (event) => {
    const field = event.target;
    if (isField(field)) flush(field); /* what came first reaches the engine first */
    if (isField(field) && !listening.get(field)) {
      if (event.key === "Enter") note(field, (t) => { t.enter = true; });
      return;
    }
    hold(event);
  }, true);
  addEventListener("beforeinput", (event) => {
    if (isField(event.target)) flush(event.target);
  }, true);
  addEventListener("input", (event) => {
    const field = event.target;
    if (isField(field) && !listening.get(field)) note(field, (t) => { t.value = field.value; });
  }, true);
})();
</script>
"""


class IndexChanged(RuntimeError):
    """flet-web's ``index.html`` has no ``</head>``: the script would not be loaded."""


def with_early_typing(index_html: str) -> str:
    if HEAD_END not in index_html:
        raise IndexChanged(f"no {HEAD_END} in flet-web's index.html")
    return index_html.replace(HEAD_END, EARLY_TYPING_SCRIPT + HEAD_END, 1)


def keep_early_typing() -> None:
    """Idempotent. flet-web patches ``index.html`` into a temporary folder when its
    static files are first served; the script is added to that copy."""
    original = flet_static_files.patch_index_html
    if getattr(original, PATCHED_MARK, False):
        return

    @functools.wraps(original)
    def patch_index_html(index_path: str, *args: Any, **kwargs: Any) -> None:
        original(index_path, *args, **kwargs)
        with open(index_path, encoding="utf-8") as file:
            index_html = file.read()
        with open(index_path, "w", encoding="utf-8") as file:
            file.write(with_early_typing(index_html))

    setattr(patch_index_html, PATCHED_MARK, True)
    flet_static_files.patch_index_html = patch_index_html
