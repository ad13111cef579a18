"""The viewer's ES modules, exercised in Chromium as served by central (no build step): the frame
layout against Python's pack_frame, mask run lengths, label documents, undo, shortcuts, geometry."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from site_gateway.protocol import pack_frame
from tests.browser.viewer_pages import product

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
__all__ = ["product"]


@pytest.fixture
def modules(page: Page, product: dict[str, Any]) -> Page:
    page.goto(f"{product['url']}/healthz")
    return page


def run(page: Page, body: str, arg: Any = None) -> Any:
    """Evaluate ``body`` (an async function of (m, arg), m = {module name: module}) in the page."""
    return page.evaluate(
        """async ([body, arg]) => {
        const names = ['protocol', 'rle', 'document', 'annotations', 'undo', 'bus', 'shortcuts',
                       'presets', 'tools/geometry', 'prefetch', 'tools/masks', 'overlay', 'frames'];
        const m = {};
        for (const n of names) m[n] = await import(`/static/viewer/${n}.js`);
        return await (new Function('m', 'arg', `return (async () => { ${body} })()`))(m, arg);
      }""",
        [body, arg],
    )


def test_binary_frame_layout_matches_python(modules: Page) -> None:
    header = {"type": "frame", "seq": 7, "series": "se_x", "index": 3, "format": "png", "rows": 2}
    packed = base64.b64encode(pack_frame(header, b"\x89PNG-bytes")).decode()
    got = run(
        modules,
        """const raw = Uint8Array.from(atob(arg), (c) => c.charCodeAt(0));
        const {header, image} = m.protocol.unpackFrame(raw.buffer);
        return {header, image: Array.from(image)};""",
        packed,
    )
    assert got == {"header": header, "image": list(b"\x89PNG-bytes")}


def test_mask_run_lengths_round_trip(modules: Page) -> None:
    got = run(
        modules,
        """const out = [];
        for (const bits of [[0,0,1,1,0], [1,1,0], [1,1,1], [0,0,0], []]) {
          const runs = m.rle.rleEncode(Uint8Array.from(bits));
          out.push([runs, Array.from(m.rle.rleDecode(runs, bits.length))]);
        }
        return out;""",
    )
    assert got == [
        [[2, 2, 1], [0, 0, 1, 1, 0]],
        [[0, 2, 1], [1, 1, 0]],
        [[0, 3], [1, 1, 1]],
        [[3], [0, 0, 0]],
        [[0], []],
    ]


def test_label_document_round_trip(modules: Page) -> None:
    got = run(
        modules,
        """const mask = new Uint8Array(12); mask[5] = mask[6] = 1;
        const list = [
          {uid: 'a', tool: 'rectangle', label: 'nodule', frame: {series: 's', index: 1, plane: 'axial'},
           geometry: {points: [[1, 2], [3, 4]]}},
          {uid: 'b', tool: 'brush', label: 'lung', frame: {series: 's', index: 1, plane: 'axial'},
           geometry: {points: []}, mask: {rows: 3, columns: 4, data: mask}},
          {uid: 'c', tool: 'classification', label: 'emph', level: 'study', frame: null,
           geometry: {points: []}},
        ];
        const doc = m.document.buildDocument({task: 5, schemaVersion: 2, baseRevision: null,
                                              annotations: list});
        const wire = JSON.parse(JSON.stringify(doc));
        const back = m.document.parseDocument(wire);
        return {wire, mask: Array.from(back[1].mask.data), level: back[2].level};""",
    )
    wire = got["wire"]
    assert wire["task"] == 5 and wire["schema_version"] == 2 and wire["base_revision"] is None
    assert wire["annotations"][1]["mask"] == {"rows": 3, "columns": 4, "rle": [5, 2, 5]}
    assert got["mask"] == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    assert got["level"] == "study"


def test_every_edit_undoes_and_redoes(modules: Page) -> None:
    got = run(
        modules,
        """const bus = m.bus.createBus(); const history = new m.undo.History(bus);
        const store = new m.annotations.AnnotationStore({bus, history});
        const a = {uid: 'a', tool: 'point', label: 'p', frame: {series: 's', index: 0},
                   geometry: {points: [[1, 1]]}};
        const seen = [];
        const snap = () => seen.push(store.all().map((x) => x.geometry.points[0][0]));
        store.add(a); snap();
        store.update({...a, geometry: {points: [[5, 5]]}}); snap();
        store.remove('a'); snap();
        history.undo(); snap(); history.undo(); snap(); history.undo(); snap();
        history.redo(); snap(); history.redo(); snap();
        let unknown = null;
        try { bus.emit('no-such-event'); } catch (e) { unknown = String(e.message); }
        return {seen, unknown};""",
    )
    assert got["seen"] == [[1], [5], [], [5], [1], [], [1], [5]]
    assert "unknown bus event" in got["unknown"]


def test_key_names_and_user_shortcuts(modules: Page) -> None:
    got = run(
        modules,
        """const k = (init) => m.shortcuts.keyName(new KeyboardEvent('keydown', init));
        const s = new m.shortcuts.Shortcuts({own: {rectangle: 'q'}, preferencesUrl: '/x'});
        return {
          names: [k({key: 'R'}), k({key: 'z', ctrlKey: true}), k({key: '?', shiftKey: true}),
                  k({key: 'C', shiftKey: true}), k({key: ' '}), k({key: 'Enter', ctrlKey: true})],
          q: s.match(new KeyboardEvent('keydown', {key: 'q'})),
          r: s.match(new KeyboardEvent('keydown', {key: 'r'})),
          undo: s.match(new KeyboardEvent('keydown', {key: 'z', ctrlKey: true})),
        };""",
    )
    assert got["names"] == ["r", "Ctrl+z", "?", "Shift+c", "Space", "Ctrl+Enter"]
    assert (got["q"], got["r"], got["undo"]) == ("rectangle", None, "undo")


def test_keys_the_viewer_handles_itself_cannot_be_bound(modules: Page) -> None:
    got = run(
        modules,
        """const r = m.shortcuts.reservedFor;
        const keys = ['1', '0', 'ArrowDown', 'Shift+ArrowDown', 'PageUp', 'End', '+', '-', '[',
                      'Ctrl+]', 'Escape', 'Enter', 'Ctrl+1', 'Ctrl+ArrowDown', 'q', 'Shift+q',
                      'Ctrl+Enter', 'Space'];
        const s = new m.shortcuts.Shortcuts({own: {}, preferencesUrl: '/not-called/'});
        let refused = null;
        try { await s.change('rectangle', '1'); } catch (e) { refused = e.message; }
        return {kept: Object.fromEntries(keys.map((k) => [k, r(k)])), refused, own: s.own};""",
    )
    moving, presets = "moving through the slices", "window presets"
    assert got["kept"] == {
        "1": presets, "0": presets, "ArrowDown": moving, "Shift+ArrowDown": moving,
        "PageUp": moving, "End": moving, "+": "zoom", "-": "zoom", "[": "brush size",
        "Ctrl+]": "brush size", "Escape": "cancelling", "Enter": "closing a polygon",
        "Ctrl+1": None, "Ctrl+ArrowDown": None, "q": None, "Shift+q": None, "Ctrl+Enter": None,
        "Space": None,
    }  # fmt: skip
    assert got["refused"] == "1 is kept for window presets." and got["own"] == {}


def test_measurements_use_pixel_spacing_per_plane(modules: Page) -> None:
    got = run(
        modules,
        """const g = m['tools/geometry'];
        const info = {pixel_spacing: [0.5, 0.8], spacing: 2.5};
        return {
          axial: g.lengthOf([[0, 0], [10, 0]], g.planeSpacing(info, 'axial')),
          coronal: g.lengthOf([[0, 0], [0, 4]], g.planeSpacing(info, 'coronal')),
          unknown: g.lengthOf([[0, 0], [3, 4]], g.planeSpacing({}, 'axial')),
          angle: g.angleOf([[10, 0], [0, 0], [0, 10]], null),
          presets: m.presets.presetsFor('CT', {}).map((p) => p.name),
          own: m.presets.presetsFor('CT', {CT: [{name: 'Liver', center: 60, width: 150}]}),
        };""",
    )
    assert got["axial"] == {"value": 8, "unit": "mm"}  # x spacing = column spacing (0.8)
    assert got["coronal"] == {"value": 10, "unit": "mm"}  # rows of a coronal image are slices
    assert got["unknown"] == {"value": 5, "unit": "px"}
    assert round(got["angle"]["value"], 6) == 90 and got["angle"]["unit"] == "deg"
    assert got["presets"] == ["Brain", "Lung", "Bone", "Abdomen", "Mediastinum"]
    assert got["own"] == [{"name": "Liver", "center": 60, "width": 150}]


def test_read_ahead_follows_the_scroll_and_leaves_room_in_the_window(modules: Page) -> None:
    got = run(
        modules,
        """const p = m.prefetch;
        const want = (index, quality) => ({index, plane: 'axial', quality, window: null});
        const plan = (w, moving, direction, extra = {}) => p.prefetchPlan(
          {want: w, moving, direction, slices: 20, windowMoving: false, ...extra})
          .map((x) => `${x.index}${x.quality[0]}`);
        return {
          down: plan(want(5, 'preview'), true, 1),
          up: plan(want(5, 'preview'), true, -1),
          rest: plan(want(0, 'lossless'), false, 1),
          restUp: plan(want(10, 'lossless'), false, -1),
          dragging: plan(want(5, 'preview'), true, 1, {windowMoving: true}),
          single: plan(want(0, 'lossless'), false, 1, {slices: 1}),
          budget: [p.PREFETCH_IN_FLIGHT, p.MAX_IN_FLIGHT, m.protocol.ACK_WINDOW],
        };""",
    )
    assert got["down"] == [f"{i}p" for i in range(6, 18)]
    assert got["up"] == ["4p", "3p", "2p", "1p", "0p"]
    assert got["rest"] == ["1l", "2l", "3l"]
    assert got["restUp"] == ["9l", "11l", "8l", "12l", "7l", "13l"]
    assert got["dragging"] == [] and got["single"] == []
    prefetch, interactive, window = got["budget"]
    assert prefetch > 0 and prefetch + 2 * interactive <= window


def test_a_mask_shifts_by_whole_pixels_and_stays_on_the_image(modules: Page) -> None:
    got = run(
        modules,
        """const k = m['tools/masks'];
        const mask = {rows: 4, columns: 5, data: new Uint8Array(20)};
        mask.data[6] = mask.data[7] = mask.data[12] = 1;  // (1,1) (2,1) (2,2)
        const box = k.maskBounds(mask);
        const out = new Uint8Array(20);
        const shifted = (dx, dy) => {
          k.shiftMask(mask.data, out, 5, 4, dx, dy);
          return Array.from(out.keys()).filter((i) => out[i]).map((i) => [i % 5, Math.floor(i / 5)]);
        };
        return {
          box, empty: k.maskBounds({rows: 2, columns: 2, data: new Uint8Array(4)}),
          right: shifted(2, 1), left: shifted(-1, -1),
          clamped: k.clampShift(box, 5, 4, 9.4, -7), rounded: k.clampShift(box, 5, 4, 0.6, 0.4),
        };""",
    )
    assert got["box"] == {"x0": 1, "y0": 1, "x1": 2, "y1": 2} and got["empty"] is None
    assert got["right"] == [[3, 2], [4, 2], [4, 3]]
    assert got["left"] == [[0, 0], [1, 0], [1, 1]]
    assert got["clamped"] == [2, -1]  # the box's right edge at column 4, its top at row 0
    assert got["rounded"] == [1, 0]


OVERLAY_DOM = """const root = document.createElement('div');
for (const name of ['series', 'slice', 'window', 'quality', 'progress']) {
  const el = document.createElement('span'); el.dataset.overlay = name; root.append(el); }
const bar = document.createElement('div'); bar.hidden = true;
const progress = document.createElement('progress'); progress.dataset.progress = '';
bar.append(progress); root.append(bar); document.body.append(root);
const bus = m.bus.createBus(); const overlay = new m.overlay.Overlay({bus, root});
const text = (n) => root.querySelector(`[data-overlay="${n}"]`).textContent;
"""


def test_the_retrieval_bar_follows_the_site_and_hides_when_done(modules: Page) -> None:
    got = run(
        modules,
        OVERLAY_DOM
        + """const seen = [];
        for (const p of [{received: 0, total: 120}, {received: 45, total: 120, failed: 2},
                         {received: 120, total: 120, done: true}]) {
          bus.emit('progress', {type: 'retrieve.progress', series: 'se_x', failed: 0, done: false, ...p});
          seen.push([bar.hidden, progress.value, progress.max, text('progress')]);
        }
        return seen;""",
    )
    assert got == [
        [False, 0, 120, "Fetching at the site: 0 / 120"],
        [False, 45, 120, "Fetching at the site: 45 / 120 (2 failed)"],
        [True, 120, 120, ""],
    ]


def test_series_facts_and_frame_state_are_text_never_markup(modules: Page) -> None:
    got = run(
        modules,
        OVERLAY_DOM
        + """bus.emit('series', {modality: 'CT', body_part: '<b>CHEST</b>',
          description: '<img src=x onerror="window.pwned = 1">', columns: 512, rows: 512,
          pixel_spacing: [0.7, 0.7], positions: null});
        overlay.setFrame({index: 4, plane: 'axial', slices: 120, quality: 'preview',
                          window: {center: 40, width: 400}});
        await new Promise((r) => setTimeout(r, 50));
        return {elements: root.querySelectorAll('img, b').length, pwned: window.pwned ?? null,
                series: text('series'), slice: text('slice'), quality: text('quality'),
                marker: root.querySelector('[data-overlay="quality"]').dataset.quality,
                window: text('window')};""",
    )
    assert got == {
        "elements": 0, "pwned": None,
        "series": 'CT · <b>CHEST</b> · <img src=x onerror="window.pwned = 1">\n512×512 · 0.70×0.70 mm',
        "slice": "axial 5 / 120", "quality": "Preview", "marker": "preview",
        "window": "W 400 / L 40 · zoom 100%",
    }  # fmt: skip


def test_no_viewer_module_writes_html() -> None:
    """Strings reach the page through textContent and the el() helpers only: no module of the
    viewer (nor the worklist) parses markup."""
    static = Path(__file__).resolve().parents[2] / "frontend" / "static"
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser"
    )
    files = [*sorted((static / "viewer").rglob("*.js")), static / "js" / "worklist.js"]
    assert len(files) > 20
    found = [f"{f.name}: {m.group(0)}" for f in files for m in sinks.finditer(f.read_text())]
    assert found == []


def test_a_frame_dropped_on_the_way_is_asked_for_again_a_superseded_one_is_not(
    modules: Page,
) -> None:
    """Central answers a frame it dropped (its window full) with error cancelled for that seq;
    the scheduler asks again for it if it is still what is wanted, and not for what the user has
    moved away from. (The connection is a recorder: central's drop is exercised against the real
    relay in tests/annotations/secure_access/test_sockets.py.)"""
    got = run(
        modules,
        """const sent = []; let seq = 0;
        const connection = {ready: true, ack() {},
          send(m) { seq += 1; if (m.type === 'frame.request') sent.push([seq, m.index, m.quality]); return seq; }};
        const bus = m.bus.createBus();
        const s = new m.frames.FrameScheduler({bus, connection, paint() {}, slices: () => 50});
        s.prefetchEnabled = false; s.setSeries('se_x');
        s.request({index: 10, plane: 'axial'});
        const first = sent.at(-1)[0];
        bus.emit('error', {type: 'error', code: 'cancelled', seq: first, message: 'dropped'});
        await new Promise((r) => setTimeout(r, 250));
        const again = sent.slice(1);
        s.request({index: 11, plane: 'axial'});
        const moved = sent.at(-1)[0];
        s.request({index: 12, plane: 'axial'});
        bus.emit('error', {type: 'error', code: 'cancelled', seq: moved, message: 'superseded'});
        await new Promise((r) => setTimeout(r, 250));
        return {again, after: sent.slice(2).map(([, i, q]) => [i, q])};""",
    )
    assert [i for _, i, _ in got["again"]] == [10]  # asked again, once
    assert got["after"] == [[11, "lossless"], [12, "lossless"]]  # nothing more for slice 11


def test_my_tasks_says_where_the_labels_stand(modules: Page) -> None:
    texts = modules.evaluate(
        """async () => {
        const { labelsText } = await import('/static/js/worklist.js');
        return ['', 'saved_at_site', 'stored_in_pacs', 'failed', 'bogus'].map(
          (s) => labelsText({ label_count: 3, label_state: s }));
      }"""
    )
    assert texts == [
        "3", "3 · saved at site", "3 · stored in PACS", "3 · storing in PACS failed", "3",
    ]  # fmt: skip
